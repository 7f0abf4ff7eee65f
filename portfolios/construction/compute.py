"""From the inputs a person chose (a JSON-able dict, stored with every model version) to the
construction method's answer, and the frontier around it.

A `Universe` is what the method works on: expected returns and covariance (annual fractions)
labelled by asset, and each asset's broad group. Asset classes use the capital market
assumptions (`cma_universe`); securities use their own daily price history (`history_universe`:
arithmetic mean return, Ledoit-Wolf covariance, both annualised over 252 sessions).

inputs: {"asset_classes": [codes] or "securities": [tickers], "method": one of
construct.METHODS, "risk_free_rate", "target_return", "target_volatility", "risk_aversion",
"tau" (annual fractions / numbers or None), "lower"/"upper": {asset: fraction},
"groups": {broad group: [lower, upper]}, "views": [{"weights": {asset: weight}, "value": fraction}]}.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from portfolios.analytics import assumptions, construct, expected_returns, optimize, risk_models
from portfolios.analytics import returns as returns_module
from portfolios.analytics.black_litterman import View
from portfolios.analytics.errors import InputError

# Broad groups of the capital-market classes, for group limits such as "bonds 20-40%".
GROUPS: dict[str, tuple[str, ...]] = {
    "stocks": ("us-stocks", "intl-developed", "emerging"),
    "bonds": ("us-bonds", "intl-bonds", "tips"),
    "real_assets": ("reits", "gold"),
    "cash": ("cash",),
}
FRONTIER_POINTS = 25
SESSIONS_PER_YEAR = 252
MIN_COMMON_SESSIONS = 60


def group_of(code: str) -> str | None:
    """The broad group of an asset class code (by its capital-market class)."""
    cls = assumptions.canonical_class(code)
    return next((name for name, members in GROUPS.items() if cls in members), None)


@dataclass(frozen=True)
class Universe:
    """mu (Series) and cov (DataFrame) by asset; `groups`: asset -> broad group; `history`:
    True when estimated from prices (figures then come from mu and cov, not the CMAs)."""

    mu: pd.Series
    cov: pd.DataFrame
    groups: Mapping[str, str | None]
    history: bool = False

    @property
    def assets(self) -> list[str]:
        return [str(a) for a in self.mu.index]

    def subset(self, assets: Sequence[str]) -> Universe:
        missing = [a for a in assets if a not in self.mu.index]
        if missing:
            raise InputError(
                f"no estimates for {missing[0]!r}",
                code="missing_data",
                constraint=f"asset:{missing[0]}",
            )
        names = list(assets)
        return Universe(
            self.mu[names],
            self.cov.loc[names, names],
            {a: self.groups.get(a) for a in names},
            self.history,
        )


def cma_universe(codes: Sequence[str]) -> Universe:
    """Asset classes on the capital market assumptions."""
    mu, cov = construct.cma_inputs(list(codes))
    return Universe(mu, cov, {c: group_of(c) for c in codes})


def history_universe(prices: pd.DataFrame, asset_class_of: Mapping[str, str]) -> Universe:
    """Securities (columns of daily closes) over the sessions they all have: arithmetic mean
    daily return and Ledoit-Wolf covariance, times 252. Raises InputError (missing_data) with
    fewer than 60 common sessions."""
    common = prices.dropna()
    if len(common) < MIN_COMMON_SESSIONS + 1:
        raise InputError(
            f"only {max(len(common) - 1, 0)} daily returns that every chosen security has",
            code="missing_data",
            details={"sessions": max(len(common) - 1, 0)},
        )
    mu = expected_returns.mean_historical_return(
        common, periods_per_year=SESSIONS_PER_YEAR, compounding=False
    )
    rets = returns_module.simple_returns(common).dropna()
    cov = risk_models.ledoit_wolf(rets, periods_per_year=SESSIONS_PER_YEAR).covariance
    names = [str(c) for c in common.columns]
    cov = pd.DataFrame(np.asarray(cov, dtype=float), index=names, columns=names)
    groups = {t: group_of(asset_class_of[t]) for t in names}
    return Universe(pd.Series(mu.to_numpy(dtype=float), index=names), cov, groups, history=True)


def constraints_of(inputs: Mapping[str, Any], universe: Universe) -> optimize.Constraints:
    """The bounds and group limits of `inputs` over the universe's assets."""
    limits = inputs.get("groups") or {}
    groups = tuple(
        optimize.GroupConstraint(
            name,
            tuple(a for a in universe.assets if universe.groups.get(a) == name),
            float(bounds[0]),
            float(bounds[1]),
        )
        for name, bounds in sorted(limits.items())
    )
    return optimize.Constraints(
        lower={k: float(v) for k, v in (inputs.get("lower") or {}).items()},
        upper={k: float(v) for k, v in (inputs.get("upper") or {}).items()},
        groups=groups,
    )


def _optional(inputs: Mapping[str, Any], key: str) -> float | None:
    value = inputs.get(key)
    return None if value is None else float(value)


def spec(
    inputs: Mapping[str, Any], universe: Universe, reference: Mapping[str, float]
) -> construct.Spec:
    """The construction spec of `inputs`; `reference` is the Black-Litterman prior portfolio."""
    return construct.Spec(
        method=str(inputs["method"]),
        constraints=constraints_of(inputs, universe),
        risk_free_rate=float(inputs.get("risk_free_rate") or 0.0),
        target_return=_optional(inputs, "target_return"),
        target_volatility=_optional(inputs, "target_volatility"),
        risk_aversion=float(inputs.get("risk_aversion") or construct.DEFAULT_RISK_AVERSION),
        tau=float(inputs.get("tau") or 0.05),
        views=tuple(View(dict(v["weights"]), float(v["value"])) for v in inputs.get("views") or ()),
        reference_weights=dict(reference),
    )


@dataclass(frozen=True)
class Estimate:
    """Expected return and volatility, annual fractions."""

    expected_return: float
    volatility: float


def estimate(universe: Universe, weights: Mapping[str, float]) -> Estimate:
    """Where weights (asset -> fraction) sit: the capital market assumptions' own estimate for
    asset classes (the figure every page shows), w'mu and sqrt(w' Sigma w) for securities."""
    if not universe.history:
        est = assumptions.portfolio_estimate(weights)
        return Estimate(est.expected_return, est.volatility)
    outside = [a for a, x in weights.items() if x > 0 and a not in universe.mu.index]
    if outside:
        raise InputError(
            f"no price history for {outside[0]!r}",
            code="missing_data",
            constraint=f"asset:{outside[0]}",
        )
    w = np.array([float(weights.get(a, 0.0)) for a in universe.assets])
    if w.sum() <= 0:
        raise InputError("no weight on these assets", code="invalid_input")
    w = w / w.sum()
    variance = float(w @ universe.cov.to_numpy() @ w)
    return Estimate(float(w @ universe.mu.to_numpy()), float(np.sqrt(max(variance, 0.0))))


def risk_contributions(universe: Universe, weights: Mapping[str, float]) -> dict[str, float]:
    """Each asset's share of the portfolio variance, w_i (Sigma w)_i / w' Sigma w (sums to 1)."""
    assets = [a for a in weights if weights[a] > 0]
    cov = universe.subset(assets).cov.to_numpy()
    w = np.array([float(weights[a]) for a in assets])
    sigma_w = cov @ w
    variance = float(w @ sigma_w)
    if variance <= 0:
        return dict.fromkeys(assets, 0.0)
    return {a: float(x) for a, x in zip(assets, w * sigma_w / variance, strict=True)}


@dataclass(frozen=True)
class Built:
    """A method's answer with the inputs it came from. `weights`: asset -> fraction rounded to
    0.01% (what is stored and shown), zero weights dropped; `estimate`: expected return and
    volatility of those rounded weights; `risk_contributions`: asset -> share of the variance."""

    universe: Universe
    result: optimize.OptimalPortfolio
    weights: dict[str, float]
    estimate: Estimate
    risk_contributions: dict[str, float]
    constraints: optimize.Constraints

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(self.universe.assets)


def rounded(weights: pd.Series, step: float = 1e-4) -> dict[str, float]:
    """Weights on a grid of `step`, summing to exactly 1: the rounding residue goes to the
    largest weight; weights that round to zero are dropped."""
    grid = np.round(weights.to_numpy(dtype=float) / step).astype(np.int64)
    total = round(1 / step)
    grid[int(np.argmax(grid))] += total - int(grid.sum())
    return {str(a): int(g) / total for a, g in zip(weights.index, grid, strict=True) if g > 0}


def build(
    inputs: Mapping[str, Any],
    reference: Mapping[str, float] | None = None,
    universe: Universe | None = None,
) -> Built:
    """Run the method of `inputs` on `universe` (default: the capital market assumptions of
    its asset classes). Raises the analytics' PortfolioError subclasses on input that cannot
    be met or used."""
    if universe is None:
        universe = cma_universe(list(dict.fromkeys(inputs["asset_classes"])))
    the_spec = spec(inputs, universe, reference or {})
    result = construct.build(the_spec, universe.mu, universe.cov)
    weights = rounded(result.weights_series())
    return Built(
        universe=universe,
        result=result,
        weights=weights,
        estimate=estimate(universe, weights),
        risk_contributions=risk_contributions(universe, weights),
        constraints=the_spec.constraints,
    )


def frontier(
    universe: Universe, constraints: optimize.Constraints | None = None
) -> list[dict[str, float]]:
    """Points {volatility, expected_return} of the efficient frontier of the universe."""
    curve = optimize.efficient_frontier(
        universe.mu, universe.cov, FRONTIER_POINTS, constraints=constraints
    )
    return [
        {"volatility": float(v), "expected_return": float(r)}
        for v, r in zip(curve.volatilities, curve.returns, strict=True)
    ]


def placed(label: str, universe: Universe, weights: Mapping[str, float]) -> dict[str, Any]:
    """A portfolio's point for the chart, on the universe's estimates."""
    est = estimate(universe, weights)
    return {"label": label, "volatility": est.volatility, "expected_return": est.expected_return}
