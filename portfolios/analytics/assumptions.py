"""Capital market assumptions (CMAs): long-run expected return, volatility and correlation per
asset class, and the portfolio expected return / volatility they imply for a set of weights.

Units: annual, as fractions (0.065 == 6.5% a year). Returns are *arithmetic* expected annual
total returns in nominal USD (E[1 + R] - 1); volatility is the standard deviation of the annual
return. Monte Carlo converts them to lognormal monthly parameters (see monte_carlo.py).

Source and reasoning. These are rounded long-run (10-20 year) estimates, in the range of the
published 2024-2025 capital market assumptions of large managers (Vanguard VCMM, J.P. Morgan
LTCMA, BlackRock), which put US equities at roughly 5-7% geometric, developed ex-US 6-8%,
emerging 6-9%, US aggregate bonds 4-5%, TIPS about 4%, cash 3% (today's T-bill yields fading
towards ~2.5%). Arithmetic means are the geometric mean plus about half the variance.
Volatilities and correlations are close to the realised 2004-2025 monthly history of the
matching ETFs (SPY/VTI, EFA, EEM, AGG, TIP, VNQ, GLD, BIL; see benchmarks/validate_analytics.py,
which checks every figure against that history within plausible bounds). They are estimates,
not promises; the methodology page says so.

Unknown asset class codes are mapped by keywords in the code (e.g. "small-cap-value" ->
us-stocks, "muni-bonds" -> us-bonds); anything unrecognised is treated as a diversified
balanced holding (OTHER) rather than failing, so a staff member adding an asset class never
breaks a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

CLASSES: tuple[str, ...] = (
    "us-stocks",
    "intl-developed",
    "emerging",
    "us-bonds",
    "intl-bonds",
    "tips",
    "reits",
    "gold",
    "cash",
    "other",
)

# Expected arithmetic annual return, annual volatility.
EXPECTED_RETURN: dict[str, float] = {
    "us-stocks": 0.075,
    "intl-developed": 0.080,
    "emerging": 0.090,
    "us-bonds": 0.045,
    "intl-bonds": 0.040,
    "tips": 0.042,
    "reits": 0.075,
    "gold": 0.050,
    "cash": 0.030,
    "other": 0.060,
}
VOLATILITY: dict[str, float] = {
    "us-stocks": 0.160,
    "intl-developed": 0.170,
    "emerging": 0.220,
    "us-bonds": 0.050,
    "intl-bonds": 0.045,
    "tips": 0.060,
    "reits": 0.210,
    "gold": 0.160,
    "cash": 0.005,
    "other": 0.110,
}

# Correlations, upper triangle given; symmetric and positive definite (a test checks).
_CORR_UPPER: dict[tuple[str, str], float] = {
    ("us-stocks", "intl-developed"): 0.85,
    ("us-stocks", "emerging"): 0.75,
    ("us-stocks", "us-bonds"): 0.10,
    ("us-stocks", "intl-bonds"): 0.10,
    ("us-stocks", "tips"): 0.15,
    ("us-stocks", "reits"): 0.75,
    ("us-stocks", "gold"): 0.05,
    ("us-stocks", "cash"): 0.0,
    ("us-stocks", "other"): 0.70,
    ("intl-developed", "emerging"): 0.85,
    ("intl-developed", "us-bonds"): 0.15,
    ("intl-developed", "intl-bonds"): 0.15,
    ("intl-developed", "tips"): 0.20,
    ("intl-developed", "reits"): 0.70,
    ("intl-developed", "gold"): 0.20,
    ("intl-developed", "cash"): 0.0,
    ("intl-developed", "other"): 0.70,
    ("emerging", "us-bonds"): 0.15,
    ("emerging", "intl-bonds"): 0.15,
    ("emerging", "tips"): 0.25,
    ("emerging", "reits"): 0.65,
    ("emerging", "gold"): 0.30,
    ("emerging", "cash"): 0.0,
    ("emerging", "other"): 0.65,
    ("us-bonds", "intl-bonds"): 0.70,
    ("us-bonds", "tips"): 0.75,
    ("us-bonds", "reits"): 0.30,
    ("us-bonds", "gold"): 0.30,
    ("us-bonds", "cash"): 0.10,
    ("us-bonds", "other"): 0.40,
    ("intl-bonds", "tips"): 0.60,
    ("intl-bonds", "reits"): 0.25,
    ("intl-bonds", "gold"): 0.25,
    ("intl-bonds", "cash"): 0.10,
    ("intl-bonds", "other"): 0.35,
    ("tips", "reits"): 0.35,
    ("tips", "gold"): 0.40,
    ("tips", "cash"): 0.05,
    ("tips", "other"): 0.40,
    ("reits", "gold"): 0.15,
    ("reits", "cash"): 0.0,
    ("reits", "other"): 0.60,
    ("gold", "cash"): 0.0,
    ("gold", "other"): 0.20,
    ("cash", "other"): 0.0,
}

# Keyword -> class, tried in order on unknown codes (first match wins).
_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("tips", "tips"),
    ("inflation", "tips"),
    ("emerg", "emerging"),
    ("reit", "reits"),
    ("real-estate", "reits"),
    ("gold", "gold"),
    ("precious", "gold"),
    ("commod", "gold"),
    ("cash", "cash"),
    ("money", "cash"),
    ("t-bill", "cash"),
    ("intl-bond", "intl-bonds"),
    ("international-bond", "intl-bonds"),
    ("global-bond", "intl-bonds"),
    ("bond", "us-bonds"),
    ("treasur", "us-bonds"),
    ("fixed", "us-bonds"),
    ("muni", "us-bonds"),
    ("intl", "intl-developed"),
    ("international", "intl-developed"),
    ("developed", "intl-developed"),
    ("foreign", "intl-developed"),
    ("ex-us", "intl-developed"),
    ("stock", "us-stocks"),
    ("equit", "us-stocks"),
    ("cap", "us-stocks"),
    ("us-", "us-stocks"),
)


def canonical_class(code: str) -> str:
    """The CMA class for an asset class code; unknown codes by keyword, else "other"."""
    key = code.strip().lower().replace("_", "-").replace(" ", "-")
    if key in EXPECTED_RETURN:
        return key
    for word, cls in _KEYWORDS:
        if word in key:
            return cls
    return "other"


def correlation_matrix(classes: tuple[str, ...] = CLASSES) -> np.ndarray:
    """Correlation matrix (n x n) of the given canonical classes."""
    n = len(classes)
    corr = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            a, b = classes[i], classes[j]
            value = 1.0 if a == b else _CORR_UPPER.get((a, b), _CORR_UPPER.get((b, a)))
            if value is None:
                raise KeyError(f"no correlation for {a}/{b}")
            corr[i, j] = corr[j, i] = value
    return corr


def covariance_matrix(classes: tuple[str, ...] = CLASSES) -> np.ndarray:
    """Annual covariance matrix (n x n) of the given canonical classes."""
    vol = np.array([VOLATILITY[c] for c in classes])
    return correlation_matrix(classes) * np.outer(vol, vol)


@dataclass(frozen=True)
class PortfolioEstimate:
    expected_return: float  # arithmetic, annual fraction
    volatility: float  # annual standard deviation, fraction
    weights: dict[str, float]  # canonical class -> weight (normalised to sum 1)


def portfolio_estimate(weights: Mapping[str, float]) -> PortfolioEstimate:
    """Expected annual return w.mu and volatility sqrt(w' Sigma w) of a weight mapping.

    Keys are asset class codes (unknown codes mapped by `canonical_class`); weights are
    fractions and are normalised to sum to 1 (an empty or all-zero mapping is all cash).
    """
    merged: dict[str, float] = {}
    for code, weight in weights.items():
        if weight < 0:
            raise ValueError(f"negative weight for {code}")
        cls = canonical_class(code)
        merged[cls] = merged.get(cls, 0.0) + float(weight)
    total = sum(merged.values())
    if total <= 0:
        merged, total = {"cash": 1.0}, 1.0
    classes = tuple(merged)
    w = np.array([merged[c] / total for c in classes])
    mu = np.array([EXPECTED_RETURN[c] for c in classes])
    cov = covariance_matrix(classes)
    variance = float(w @ cov @ w)
    return PortfolioEstimate(
        expected_return=float(w @ mu),
        volatility=float(np.sqrt(max(variance, 0.0))),
        weights={c: float(x) for c, x in zip(classes, w, strict=True)},
    )


def bad_year_return(
    expected_return: float, volatility: float, *, probability: float = 0.05
) -> float:
    """The annual return exceeded (on the downside) with `probability` (default 1 year in 20).

    Lognormal with the given arithmetic mean and standard deviation (fractions); returns a
    fraction, e.g. -0.21 for a 21% loss.
    """
    from statistics import NormalDist

    s2 = np.log1p(volatility**2 / (1.0 + expected_return) ** 2)
    m = np.log1p(expected_return) - s2 / 2.0
    z = NormalDist().inv_cdf(probability)
    return float(np.expm1(m + z * np.sqrt(s2)))
