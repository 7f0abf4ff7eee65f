"""From the inputs a person chose (a JSON-able dict, stored with every model version) to the
construction method's answer on the capital market assumptions, and the frontier around it.

inputs: {"asset_classes": [codes], "method": one of construct.METHODS, "risk_free_rate",
"target_return", "target_volatility", "risk_aversion", "tau" (annual fractions / numbers or
None), "lower"/"upper": {code: fraction}, "groups": {broad group: [lower, upper]},
"views": [{"weights": {code: weight}, "value": fraction}]}.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from portfolios.analytics import assumptions, construct, optimize
from portfolios.analytics.black_litterman import View

# Broad groups of the capital-market classes, for group limits such as "bonds 20-40%".
GROUPS: dict[str, tuple[str, ...]] = {
    "stocks": ("us-stocks", "intl-developed", "emerging"),
    "bonds": ("us-bonds", "intl-bonds", "tips"),
    "real_assets": ("reits", "gold"),
    "cash": ("cash",),
}
FRONTIER_POINTS = 25


def group_of(code: str) -> str | None:
    cls = assumptions.canonical_class(code)
    return next((name for name, members in GROUPS.items() if cls in members), None)


def constraints_of(inputs: Mapping[str, Any], codes: list[str]) -> optimize.Constraints:
    """The bounds and group limits of `inputs` over the asset classes `codes`."""
    limits = inputs.get("groups") or {}
    groups = tuple(
        optimize.GroupConstraint(
            name,
            tuple(c for c in codes if group_of(c) == name),
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


def spec(inputs: Mapping[str, Any], reference: Mapping[str, float]) -> construct.Spec:
    """The construction spec of `inputs`; `reference` is the Black-Litterman prior portfolio."""
    codes = list(inputs["asset_classes"])
    return construct.Spec(
        method=str(inputs["method"]),
        constraints=constraints_of(inputs, codes),
        risk_free_rate=float(inputs.get("risk_free_rate") or 0.0),
        target_return=_optional(inputs, "target_return"),
        target_volatility=_optional(inputs, "target_volatility"),
        risk_aversion=float(inputs.get("risk_aversion") or construct.DEFAULT_RISK_AVERSION),
        tau=float(inputs.get("tau") or 0.05),
        views=tuple(View(dict(v["weights"]), float(v["value"])) for v in inputs.get("views") or ()),
        reference_weights=dict(reference),
    )


@dataclass(frozen=True)
class Built:
    """A method's answer with the inputs it came from. `weights`: code -> fraction rounded to
    0.01% (what is stored and shown), zero weights dropped; `estimate`: expected return and
    volatility of those rounded weights; `risk_contributions`: code -> share of the variance."""

    codes: tuple[str, ...]
    result: optimize.OptimalPortfolio
    weights: dict[str, float]
    estimate: assumptions.PortfolioEstimate
    risk_contributions: dict[str, float]
    mu: pd.Series
    cov: pd.DataFrame
    constraints: optimize.Constraints


def rounded(weights: pd.Series, step: float = 1e-4) -> dict[str, float]:
    """Weights on a grid of `step`, summing to exactly 1: the rounding residue goes to the
    largest weight; weights that round to zero are dropped."""
    grid = np.round(weights.to_numpy(dtype=float) / step).astype(np.int64)
    total = round(1 / step)
    grid[int(np.argmax(grid))] += total - int(grid.sum())
    return {str(a): int(g) / total for a, g in zip(weights.index, grid, strict=True) if g > 0}


def build(inputs: Mapping[str, Any], reference: Mapping[str, float] | None = None) -> Built:
    """Run the method of `inputs` on the capital market assumptions of its asset classes.
    Raises the analytics' PortfolioError subclasses on input that cannot be met or used."""
    codes = list(dict.fromkeys(inputs["asset_classes"]))
    mu, cov = construct.cma_inputs(codes)
    the_spec = spec({**inputs, "asset_classes": codes}, reference or {})
    result = construct.build(the_spec, mu, cov)
    weights = rounded(result.weights_series())
    contributions = {
        str(a): float(rc)
        for a, rc in zip(result.assets, result.risk_contributions, strict=True)
        if a in weights
    }
    return Built(
        codes=tuple(codes),
        result=result,
        weights=weights,
        estimate=assumptions.portfolio_estimate(weights),
        risk_contributions=contributions,
        mu=mu,
        cov=cov,
        constraints=the_spec.constraints,
    )


def frontier(
    codes: list[str], constraints: optimize.Constraints | None = None
) -> list[dict[str, float]]:
    """Points {volatility, expected_return} of the efficient frontier of these classes."""
    mu, cov = construct.cma_inputs(codes)
    curve = optimize.efficient_frontier(mu, cov, FRONTIER_POINTS, constraints=constraints)
    return [
        {"volatility": float(v), "expected_return": float(r)}
        for v, r in zip(curve.volatilities, curve.returns, strict=True)
    ]


def placed(label: str, weights: Mapping[str, float]) -> dict[str, Any]:
    """A portfolio's point for the chart, from the same estimate every page shows."""
    est = assumptions.portfolio_estimate(weights)
    return {"label": label, "volatility": est.volatility, "expected_return": est.expected_return}


def risk_contributions(weights: Mapping[str, float]) -> dict[str, float]:
    """Each asset class's share of the portfolio variance, w_i (Sigma w)_i / w' Sigma w, on the
    capital market assumptions (sums to 1)."""
    codes = list(weights)
    _, cov = construct.cma_inputs(codes)
    w = np.array([float(weights[c]) for c in codes])
    sigma_w = cov.to_numpy() @ w
    variance = float(w @ sigma_w)
    if variance <= 0:
        return dict.fromkeys(codes, 0.0)
    return {c: float(x) for c, x in zip(codes, w * sigma_w / variance, strict=True)}
