"""One entry point from a construction method's name and inputs to an optimiser's answer, for
the staff model builder, the investor's portfolio lab and custom targets.

Methods (`METHODS`): "min_volatility", "max_sharpe", "efficient_return" (needs
`target_return`), "efficient_risk" (needs `target_volatility`), "risk_parity",
"inverse_volatility", "hrp", "black_litterman". Black-Litterman starts from the returns
implied by `reference_weights` (reverse optimisation at `risk_aversion`, He and Litterman 1999),
blends in `views`, then maximises the quadratic utility at the same risk aversion on the
posterior, within the constraints: with no views it gives back the reference portfolio (when
that is feasible).

Units: annual fractions (0.06 == 6% a year) for returns, volatility and the risk-free rate;
weights are fractions summing to 1. Per-asset bounds and group limits apply to the
mean-variance methods and Black-Litterman; risk parity, inverse volatility and HRP are defined
by their own rule and take none (`Spec.constraints` must then be empty, else InputError).

Errors are the analytics' typed errors (`errors`): InfeasibleError names the constraint that
cannot be met, InputError the input that cannot be used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from portfolios.analytics import assumptions, black_litterman, hrp, optimize, risk_parity
from portfolios.analytics.errors import InputError

METHODS: tuple[str, ...] = (
    "max_sharpe",
    "min_volatility",
    "efficient_return",
    "efficient_risk",
    "risk_parity",
    "inverse_volatility",
    "hrp",
    "black_litterman",
)
BOUNDED_METHODS = frozenset(
    {"max_sharpe", "min_volatility", "efficient_return", "efficient_risk", "black_litterman"}
)
DEFAULT_RISK_AVERSION = 2.5


@dataclass(frozen=True)
class Spec:
    """What to build. `constraints`: per-asset bounds and group limits (mean-variance methods
    and Black-Litterman only). `views`: Black-Litterman views; `reference_weights`: asset ->
    weight of the portfolio whose implied returns are the prior (equal weights when empty)."""

    method: str
    constraints: optimize.Constraints = field(default_factory=optimize.Constraints)
    risk_free_rate: float = 0.0
    target_return: float | None = None
    target_volatility: float | None = None
    risk_aversion: float = DEFAULT_RISK_AVERSION
    views: tuple[black_litterman.View, ...] = ()
    tau: float = 0.05
    reference_weights: Mapping[str, float] = field(default_factory=dict)


def cma_inputs(codes: Sequence[str]) -> tuple[pd.Series, pd.DataFrame]:
    """Expected returns and covariance of asset classes from the capital market assumptions,
    labelled by the given codes (each mapped to its CMA class by `assumptions.canonical_class`;
    two codes of the same class give a singular covariance, which the optimisers report)."""
    if not codes:
        raise InputError("choose at least one asset class", code="invalid_input")
    classes = tuple(assumptions.canonical_class(c) for c in codes)
    names = list(codes)
    mu = pd.Series([assumptions.EXPECTED_RETURN[c] for c in classes], index=names)
    cov = pd.DataFrame(assumptions.covariance_matrix(classes), index=names, columns=names)
    return mu, cov


def _unbounded(spec: Spec) -> bool:
    c = spec.constraints
    return not c.groups and _is_default(c.lower, 0.0) and _is_default(c.upper, 1.0)


def _is_default(value: object, default: float) -> bool:
    if isinstance(value, Mapping):
        return not value
    return bool(np.all(np.asarray(value, dtype=float) == default))


def _reference(spec: Spec, assets: list[str]) -> np.ndarray:
    if not spec.reference_weights:
        return np.full(len(assets), 1.0 / len(assets))
    w = np.array([float(spec.reference_weights.get(a, 0.0)) for a in assets])
    if w.sum() <= 0 or np.any(w < 0):
        raise InputError(
            "the reference weights must be non-negative with a positive sum",
            code="invalid_input",
            constraint="reference_weights",
        )
    return w / w.sum()


def _black_litterman(spec: Spec, mu: pd.Series, cov: pd.DataFrame) -> optimize.OptimalPortfolio:
    assets = list(cov.columns)
    prior = np.asarray(cov.to_numpy() @ _reference(spec, assets) * spec.risk_aversion)
    posterior = black_litterman.black_litterman(
        pd.Series(prior + spec.risk_free_rate, index=assets), cov, spec.views, tau=spec.tau
    )
    # The posterior returns with the covariance itself (not the posterior's (1 + tau) Sigma):
    # with no views the optimum is then the reference portfolio exactly.
    result = optimize.max_quadratic_utility(
        posterior.returns_series(), cov, spec.risk_aversion, constraints=spec.constraints
    )
    problem = optimize._prepare(posterior.returns_series(), cov, spec.constraints, None)
    return optimize._result(
        problem, result.weights, "black_litterman", result.kkt_residual, result.iterations,
        spec.risk_free_rate,
    )  # fmt: skip


def build(spec: Spec, mu: pd.Series, cov: pd.DataFrame) -> optimize.OptimalPortfolio:
    """The portfolio `spec.method` builds from expected returns `mu` and covariance `cov`."""
    if spec.method not in METHODS:
        raise InputError(
            f"unknown method {spec.method!r}", code="invalid_input", constraint="method"
        )
    if spec.method not in BOUNDED_METHODS and not _unbounded(spec):
        raise InputError(
            f"{spec.method} takes no bounds or group limits",
            code="invalid_input",
            constraint="constraints",
        )
    rf, c = spec.risk_free_rate, spec.constraints
    match spec.method:
        case "max_sharpe":
            return optimize.max_sharpe(mu, cov, risk_free_rate=rf, constraints=c)
        case "min_volatility":
            return optimize.min_volatility(
                cov, expected_returns=mu, risk_free_rate=rf, constraints=c
            )
        case "efficient_return":
            target = _required(spec.target_return, "target_return")
            return optimize.efficient_return(mu, cov, target, risk_free_rate=rf, constraints=c)
        case "efficient_risk":
            target = _required(spec.target_volatility, "target_volatility")
            return optimize.efficient_risk(mu, cov, target, risk_free_rate=rf, constraints=c)
        case "risk_parity":
            return risk_parity.risk_parity(cov, expected_returns=mu, risk_free_rate=rf)
        case "inverse_volatility":
            return risk_parity.inverse_volatility(cov, expected_returns=mu, risk_free_rate=rf)
        case "hrp":
            return hrp.hrp(cov, expected_returns=mu, risk_free_rate=rf)
        case _:
            return _black_litterman(spec, mu, cov)


def _required(value: float | None, name: str) -> float:
    if value is None:
        raise InputError(
            f"{name} is required for this method", code="invalid_input", constraint=name
        )
    return float(value)
