"""Black-Litterman expected returns (Black and Litterman 1992; He and Litterman 1999).

Prior: the market-implied equilibrium excess returns pi = delta * Sigma * w_mkt
(`expected_returns.equilibrium_returns`). Views: K linear statements  P mu = Q + e,
e ~ N(0, Omega), each a `View` (absolute: one asset; relative: long one side, short the other;
or any weights). Posterior (the He-Litterman reference model, without inverting Omega, so a
fully confident view with omega = 0 is allowed):

    mu_BL    = pi + tau Sigma P' (P tau Sigma P' + Omega)^-1 (Q - P pi)
    Sigma_BL = Sigma + tau Sigma - tau Sigma P' (P tau Sigma P' + Omega)^-1 P tau Sigma

Omega: "he_litterman" (default) diag(P tau Sigma P'), "idzorek" from each view's confidence
in [0, 1] (the closed form of Walters 2014: omega_k = tau * (1 - c_k) / c_k * p_k Sigma p_k';
c = 0 drops the view, c = 1 makes it exact), or an explicit (K, K) matrix.
The He-Litterman unconstrained optimal weights are w* = (delta Sigma_BL)^-1 mu_BL (they need
not sum to 1); for constrained weights pass mu_BL and Sigma_BL to `optimize`.

Units: returns are fractions per period of the covariance (annual by convention); views in the
same units. An unknown asset in a view raises InputError(code="unknown_asset",
constraint="view:<index>").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from portfolios.analytics.errors import InputError


@dataclass(frozen=True)
class View:
    """`weights` maps asset -> weight in the view portfolio (1 for an absolute view; +1/-1
    or market-cap-weighted legs for a relative view); `value` is the expected return of that
    portfolio; `confidence` in [0, 1] is used by the Idzorek Omega."""

    weights: Mapping[str, float]
    value: float
    confidence: float | None = None


def absolute_view(asset: str, value: float, confidence: float | None = None) -> View:
    """`asset` will return `value`."""
    return View({asset: 1.0}, value, confidence)


def relative_view(
    long: str | Mapping[str, float],
    short: str | Mapping[str, float],
    value: float,
    confidence: float | None = None,
) -> View:
    """`long` will outperform `short` by `value`; each side one asset or a weight mapping
    (e.g. market-cap weights summing to 1)."""
    legs: dict[str, float] = {}
    for side, sign in ((long, 1.0), (short, -1.0)):
        items = {side: 1.0} if isinstance(side, str) else dict(side)
        for asset, weight in items.items():
            legs[asset] = legs.get(asset, 0.0) + sign * float(weight)
    return View(legs, value, confidence)


@dataclass(frozen=True)
class BlackLittermanResult:
    """posterior_returns (n,), posterior_cov (n, n), prior (n,), omega (K, K), picking (K, n),
    view_values (K,), tau; unconstrained_weights (n,) when a risk aversion was given."""

    assets: tuple[str, ...]
    prior: np.ndarray
    posterior_returns: np.ndarray
    posterior_cov: np.ndarray
    picking: np.ndarray
    view_values: np.ndarray
    omega: np.ndarray
    tau: float
    unconstrained_weights: np.ndarray | None = None

    def returns_series(self) -> pd.Series:
        """Posterior returns as a Series by asset."""
        return pd.Series(self.posterior_returns, index=list(self.assets))

    def cov_frame(self) -> pd.DataFrame:
        """Posterior covariance as a DataFrame by asset."""
        names = list(self.assets)
        return pd.DataFrame(self.posterior_cov, index=names, columns=names)


def _picking(views: Sequence[View], assets: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    index = {a: i for i, a in enumerate(assets)}
    p = np.zeros((len(views), len(assets)))
    for k, view in enumerate(views):
        for asset, weight in view.weights.items():
            if asset not in index:
                raise InputError(
                    f"view {k} names asset {asset!r}, which is not in the universe",
                    code="unknown_asset",
                    constraint=f"view:{k}",
                    details={"view": k, "asset": asset},
                )
            p[k, index[asset]] += float(weight)
        if not np.any(p[k]):
            raise InputError(
                f"view {k} has no asset weights", code="invalid_input", constraint=f"view:{k}"
            )
    return p, np.array([float(v.value) for v in views])


def black_litterman(
    prior: pd.Series | np.ndarray,
    cov: pd.DataFrame | np.ndarray,
    views: Sequence[View],
    *,
    tau: float = 0.05,
    omega: str | np.ndarray = "he_litterman",
    risk_aversion: float | None = None,
    assets: Sequence[str] | None = None,
) -> BlackLittermanResult:
    """Posterior returns and covariance from the prior `prior` (e.g. equilibrium returns),
    the covariance `cov` and `views` (see the module docstring for the formulas and Omega)."""
    if isinstance(cov, pd.DataFrame):
        names = tuple(str(c) for c in cov.columns)
        sigma = cov.to_numpy(dtype=float)
    else:
        sigma = np.asarray(cov, dtype=float)
        names = tuple(assets) if assets is not None else tuple(str(i) for i in range(len(sigma)))
    n = sigma.shape[0]
    if isinstance(prior, pd.Series):
        if set(map(str, prior.index)) != set(names):
            raise InputError("prior and covariance name different assets", code="unknown_asset")
        pi = prior.reindex(list(names)).to_numpy(dtype=float)
    else:
        pi = np.asarray(prior, dtype=float).reshape(-1)
    if pi.shape != (n,) or sigma.shape != (n, n):
        raise InputError("prior and covariance shapes differ", code="invalid_input")
    if not tau > 0:
        raise InputError("tau must be positive", code="invalid_input", constraint="tau")
    p, q = _picking(views, names)
    tau_sigma = tau * sigma
    view_var = p @ tau_sigma @ p.T
    if isinstance(omega, str):
        if omega == "he_litterman":
            om = np.diag(np.diag(view_var))
        elif omega == "idzorek":
            conf = np.array([np.nan if v.confidence is None else v.confidence for v in views])
            if np.any(~np.isfinite(conf)) or np.any((conf < 0) | (conf > 1)):
                raise InputError(
                    "Idzorek's Omega needs a confidence in [0, 1] for every view",
                    code="invalid_input",
                    constraint="confidence",
                )
            keep = conf > 0
            p, q, conf = p[keep], q[keep], conf[keep]
            view_var = p @ tau_sigma @ p.T
            om = np.diag((1 - conf) / conf * np.diag(view_var))
        else:
            raise InputError(
                f"unknown Omega method {omega!r}", code="invalid_input", constraint="omega"
            )
    else:
        om = np.asarray(omega, dtype=float)
        if om.shape != (len(q), len(q)):
            raise InputError(
                "Omega must be (K, K) for K views", code="invalid_input", constraint="omega"
            )
    if len(q):
        middle = view_var + om
        try:
            gain = np.linalg.solve(
                middle, p @ tau_sigma
            ).T  # tau Sigma P' (P tau Sigma P' + Omega)^-1
        except np.linalg.LinAlgError as exc:
            raise InputError(
                "the views are linearly dependent and exact (singular P tau Sigma P' + Omega)",
                code="invalid_input",
                constraint="views",
            ) from exc
        mu = pi + gain @ (q - p @ pi)
        post_cov = sigma + tau_sigma - gain @ p @ tau_sigma
    else:
        mu, post_cov = pi.copy(), sigma + tau_sigma
    post_cov = (post_cov + post_cov.T) / 2
    weights = None
    if risk_aversion is not None:
        weights = np.linalg.solve(risk_aversion * post_cov, mu)
    return BlackLittermanResult(
        assets=names,
        prior=pi,
        posterior_returns=mu,
        posterior_cov=post_cov,
        picking=p,
        view_values=q,
        omega=om,
        tau=tau,
        unconstrained_weights=weights,
    )
