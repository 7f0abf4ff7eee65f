"""Mean-variance portfolio optimisation: minimum volatility, maximum Sharpe, efficient return,
efficient risk, maximum quadratic utility and the efficient frontier.

Units and conventions. Weights are fractions of the portfolio (0.25 == 25%) and always sum to 1
(fully invested). `expected_returns` and `cov` are in the same period (annual, by convention
of the callers: `expected_returns.mean_historical_return` and `risk_models` annualise), so
expected return and volatility come out annual too. The risk-free rate is in the same units.
Long-only by default: bounds [0, 1] per asset; `Constraints` sets other per-asset bounds and
group limits (e.g. bonds between 20% and 40%).

Every function returns an `OptimalPortfolio` with the weights, expected return, volatility,
Sharpe ratio, each asset's share of the variance and the optimality (KKT) residual of the
problem actually solved, and raises `InfeasibleError` naming the constraint that cannot be met
(see `errors`), never None and never a generic solver failure.

    result = optimize.max_sharpe(mu, cov, risk_free_rate=0.02,
                                 constraints=Constraints(groups=groups_from_mapping(
                                     {"AGG": "bonds", "TLT": "bonds", "SPY": "stocks"},
                                     lower={"bonds": 0.2}, upper={"bonds": 0.4})))
    result.weights_series()   # pd.Series by asset

`expected_returns` and `cov` may be pandas (labels are used and aligned by asset name) or
numpy arrays (assets are then named by position, or by `assets=`).

Algorithms (no general-purpose modelling layer): maximum Sharpe is solved exactly as the
homogenised minimum-variance problem  min y'Sigma y  s.t.  (mu - rf)'y = 1  (Cornuejols and
Tutuncu, section 8.2) with w = y / sum(y); efficient risk follows the piecewise-linear
frontier in the risk-tolerance parameter until the volatility target is met; the quadratic
programmes are solved by block principal pivoting with a primal active-set fallback
(`portfolios.analytics.qp`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from portfolios.analytics import qp
from portfolios.analytics.errors import InfeasibleError, InputError

_FEAS_TOL = 1e-9


@dataclass(frozen=True)
class GroupConstraint:
    """The summed weight of `assets` must lie in [lower, upper] (fractions)."""

    name: str
    assets: tuple[str, ...]
    lower: float = 0.0
    upper: float = 1.0


@dataclass(frozen=True)
class Constraints:
    """Per-asset bounds and group limits. `lower`/`upper`: one number for every asset, a
    sequence in asset order, or a mapping asset -> bound (assets not named keep 0 and 1).
    Negative lower bounds allow short positions."""

    lower: float | Sequence[float] | Mapping[str, float] = 0.0
    upper: float | Sequence[float] | Mapping[str, float] = 1.0
    groups: tuple[GroupConstraint, ...] = ()


def groups_from_mapping(
    asset_group: Mapping[str, str],
    lower: Mapping[str, float] | None = None,
    upper: Mapping[str, float] | None = None,
) -> tuple[GroupConstraint, ...]:
    """Group limits from an asset -> group (e.g. asset class) mapping and per-group bounds;
    groups without a bound are left out."""
    lower, upper = dict(lower or {}), dict(upper or {})
    out = []
    for name in sorted(set(lower) | set(upper)):
        members = tuple(a for a, grp in asset_group.items() if grp == name)
        out.append(GroupConstraint(name, members, lower.get(name, 0.0), upper.get(name, 1.0)))
    return tuple(out)


@dataclass(frozen=True)
class OptimalPortfolio:
    """An optimiser's answer.

    weights: fractions summing to 1, in `assets` order. expected_return, sharpe: None when no
    expected returns were given. volatility: sqrt(w' Sigma w). risk_contributions: each
    asset's share of the portfolio variance, w_i (Sigma w)_i / w' Sigma w (sums to 1).
    kkt_residual: the largest violation of the optimality conditions of the problem solved
    (0 up to rounding). binding: machine-readable names of the constraints that hold with
    equality at the optimum ("upper:SPY", "lower:AGG" for a non-zero lower bound,
    "group_lower:bonds", "group_upper:bonds", "target_return", "target_volatility").
    """

    assets: tuple[str, ...]
    weights: np.ndarray
    expected_return: float | None
    volatility: float
    sharpe: float | None
    risk_contributions: np.ndarray
    kkt_residual: float
    method: str
    risk_free_rate: float = 0.0
    binding: tuple[str, ...] = ()
    iterations: int = 0

    def weights_series(self) -> pd.Series:
        """Weights as a pandas Series indexed by asset."""
        return pd.Series(self.weights, index=list(self.assets), name="weight")


@dataclass(frozen=True)
class Frontier:
    """The efficient frontier sampled at `n_points` target returns from the minimum-volatility
    portfolio's return to the maximum achievable return. weights: (n_points, n_assets)."""

    assets: tuple[str, ...]
    returns: np.ndarray
    volatilities: np.ndarray
    sharpe: np.ndarray
    weights: np.ndarray
    kkt_residuals: np.ndarray
    risk_free_rate: float = 0.0
    portfolios: tuple[OptimalPortfolio, ...] = field(default=(), repr=False)


@dataclass
class _Problem:
    assets: tuple[str, ...]
    mu: np.ndarray | None
    cov: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    group_names: tuple[str, ...]
    group_matrix: np.ndarray
    group_lower: np.ndarray
    group_upper: np.ndarray

    @property
    def n(self) -> int:
        return self.cov.shape[0]

    @property
    def has_groups(self) -> bool:
        return len(self.group_names) > 0


def _bound_vector(
    value: float | Sequence[float] | Mapping[str, float],
    assets: tuple[str, ...],
    default: float,
    side: str,
) -> np.ndarray:
    n = len(assets)
    if isinstance(value, Mapping):
        out = np.full(n, default)
        index = {a: i for i, a in enumerate(assets)}
        for asset, bound in value.items():
            if asset not in index:
                raise InputError(
                    f"{side} bound given for unknown asset {asset!r}",
                    code="unknown_asset",
                    constraint=f"{side}:{asset}",
                )
            out[index[asset]] = float(bound)
        return out
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise InputError(
            f"{side} bounds have {arr.size} values for {n} assets", code="invalid_input"
        )
    return arr.copy()


def _prepare(
    expected_returns: pd.Series | np.ndarray | None,
    cov: pd.DataFrame | np.ndarray,
    constraints: Constraints | None,
    assets: Sequence[str] | None,
) -> _Problem:
    if isinstance(cov, pd.DataFrame):
        names = tuple(str(c) for c in cov.columns)
        if [str(i) for i in cov.index] != list(names):
            raise InputError("covariance rows and columns differ", code="invalid_input")
        sigma = cov.to_numpy(dtype=float)
    else:
        sigma = np.asarray(cov, dtype=float)
        names = tuple(assets) if assets is not None else tuple(str(i) for i in range(len(sigma)))
    n = sigma.shape[0] if sigma.ndim == 2 else 0
    if sigma.ndim != 2 or sigma.shape != (n, n) or n == 0:
        raise InputError("covariance must be a non-empty square matrix", code="invalid_input")
    if len(names) != n or len(set(names)) != n:
        raise InputError("asset names must be unique, one per covariance row", code="invalid_input")
    if not np.all(np.isfinite(sigma)):
        raise InputError("covariance contains NaN or infinite values", code="invalid_input")
    scale = float(np.max(np.abs(np.diagonal(sigma))))
    if np.any(np.diagonal(sigma) < 0) or np.max(np.abs(sigma - sigma.T)) > 1e-10 * max(
        scale, 1e-300
    ):
        raise InputError(
            "covariance is not symmetric with non-negative variances",
            code="covariance_not_psd",
        )
    mu = None
    if expected_returns is not None:
        if isinstance(expected_returns, pd.Series):
            missing = [a for a in names if a not in expected_returns.index]
            extra = [str(a) for a in expected_returns.index if str(a) not in names]
            if missing or extra:
                raise InputError(
                    "expected returns and covariance name different assets",
                    code="unknown_asset",
                    constraint=f"asset:{(missing or extra)[0]}",
                    details={"missing": missing, "extra": extra},
                )
            mu = expected_returns.reindex(list(names)).to_numpy(dtype=float)
        else:
            mu = np.asarray(expected_returns, dtype=float).reshape(-1)
        if mu.shape != (n,) or not np.all(np.isfinite(mu)):
            raise InputError("expected returns must be finite, one per asset", code="invalid_input")
    constraints = constraints or Constraints()
    lower = _bound_vector(constraints.lower, names, 0.0, "lower")
    upper = _bound_vector(constraints.upper, names, 1.0, "upper")
    index = {a: i for i, a in enumerate(names)}
    matrix = np.zeros((len(constraints.groups), n))
    for k, group in enumerate(constraints.groups):
        for asset in group.assets:
            if asset not in index:
                raise InputError(
                    f"group {group.name!r} names unknown asset {asset!r}",
                    code="unknown_asset",
                    constraint=f"group:{group.name}",
                )
            matrix[k, index[asset]] = 1.0
    return _Problem(
        assets=names,
        mu=mu,
        cov=sigma,
        lower=lower,
        upper=upper,
        group_names=tuple(g.name for g in constraints.groups),
        group_matrix=matrix,
        group_lower=np.array([g.lower for g in constraints.groups], dtype=float),
        group_upper=np.array([g.upper for g in constraints.groups], dtype=float),
    )


def _check_feasible(problem: _Problem) -> None:
    """Raise InfeasibleError naming the first constraint that cannot be met."""
    lo, up, names = problem.lower, problem.upper, problem.assets
    bad = np.flatnonzero(lo > up + _FEAS_TOL)
    if bad.size:
        a = names[int(bad[0])]
        raise InfeasibleError(
            f"lower bound of {a} ({lo[bad[0]]:.4g}) is above its upper bound ({up[bad[0]]:.4g})",
            code="bounds_conflict",
            constraint=f"bounds:{a}",
            details={"asset": a, "lower": float(lo[bad[0]]), "upper": float(up[bad[0]])},
        )
    if lo.sum() > 1 + _FEAS_TOL:
        raise InfeasibleError(
            f"lower bounds sum to {lo.sum():.4g}, more than the whole portfolio (1)",
            code="budget_unreachable",
            constraint="budget",
            details={"sum_lower": float(lo.sum())},
        )
    if up.sum() < 1 - _FEAS_TOL:
        raise InfeasibleError(
            f"upper bounds sum to {up.sum():.4g}, less than the whole portfolio (1)",
            code="budget_unreachable",
            constraint="budget",
            details={"sum_upper": float(up.sum())},
        )
    for k, name in enumerate(problem.group_names):
        members = problem.group_matrix[k] > 0
        g_lo, g_up = problem.group_lower[k], problem.group_upper[k]
        reach_lo, reach_up = float(lo[members].sum()), float(up[members].sum())
        if g_lo > g_up + _FEAS_TOL or g_lo > reach_up + _FEAS_TOL or g_up < reach_lo - _FEAS_TOL:
            raise InfeasibleError(
                f"group {name!r} must lie in [{g_lo:.4g}, {g_up:.4g}] but its assets' bounds "
                f"allow only [{reach_lo:.4g}, {reach_up:.4g}]",
                code="group_conflict",
                constraint=f"group:{name}",
                details={
                    "group": name,
                    "lower": float(g_lo),
                    "upper": float(g_up),
                    "reachable_lower": reach_lo,
                    "reachable_upper": reach_up,
                },
            )


def _greedy_fill(order: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Start at the lower bounds and raise assets to their upper bounds in `order` until the
    weights sum to 1: the exact LP optimum of max c'w over box + budget when `order` sorts c
    descending (a fractional knapsack), and a vertex in any case."""
    w = lower.copy()
    remaining = 1.0 - w.sum()
    room = (upper - lower)[order]
    filled = np.cumsum(room)
    last = int(np.searchsorted(filled, remaining - 1e-15))
    w[order[:last]] = upper[order[:last]]
    if last < order.size:
        before = filled[last - 1] if last > 0 else 0.0
        w[order[last]] += remaining - before
    return w


def _linprog_point(problem: _Problem, objective: np.ndarray) -> np.ndarray:
    """An optimal vertex of min objective'w over the constraints (with groups), or
    InfeasibleError naming the groups that conflict (found by an elastic LP)."""
    from scipy.optimize import linprog

    n, k = problem.n, len(problem.group_names)
    g = problem.group_matrix
    a_ub = np.vstack((g, -g))
    b_ub = np.concatenate((problem.group_upper, -problem.group_lower))
    bounds = list(zip(problem.lower, problem.upper, strict=True))
    res = linprog(
        objective,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=np.ones((1, n)),
        b_eq=[1.0],
        bounds=bounds,
        method="highs",
    )
    if res.status == 0:
        return np.asarray(res.x, dtype=float)
    # Elastic LP: one slack per group side; those left positive name the conflict.
    a_el = np.hstack((a_ub, -np.eye(2 * k)))
    el = linprog(
        np.concatenate((np.zeros(n), np.ones(2 * k))),
        A_ub=a_el,
        b_ub=b_ub,
        A_eq=np.hstack((np.ones((1, n)), np.zeros((1, 2 * k)))),
        b_eq=[1.0],
        bounds=bounds + [(0, None)] * (2 * k),
        method="highs",
    )
    slack = np.asarray(el.x[n:]) if el.status == 0 else np.ones(2 * k)
    failing = sorted({problem.group_names[i % k] for i in np.flatnonzero(slack > 1e-9)})
    raise InfeasibleError(
        "group constraints conflict with each other or with the bounds: "
        + ", ".join(failing or problem.group_names),
        code="group_conflict",
        constraint="group:" + (failing[0] if failing else problem.group_names[0]),
        details={"groups": failing},
    )


def _feasible_point(problem: _Problem, preference: np.ndarray) -> np.ndarray:
    """A feasible vertex favouring assets with a high `preference`."""
    if problem.has_groups:
        return _linprog_point(problem, -preference)
    return _greedy_fill(np.argsort(-preference, kind="stable"), problem.lower, problem.upper)


def _max_return(problem: _Problem) -> np.ndarray:
    assert problem.mu is not None
    return _feasible_point(problem, problem.mu)


def _group_rows(problem: _Problem) -> tuple[np.ndarray, np.ndarray]:
    g = problem.group_matrix
    rows = np.vstack((g, -g))
    rhs = np.concatenate((problem.group_upper, -problem.group_lower))
    keep = np.isfinite(rhs)
    return rows[keep], rhs[keep]


def _solve_weights(
    problem: _Problem,
    g: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    start: np.ndarray,
    free_guess: np.ndarray | None = None,
) -> qp.QPSolution:
    """min 1/2 w'Sigma w + g'w over the problem's constraints plus the equality rows (a, b);
    `start` is a feasible point (used by the active-set fallback)."""
    try:
        if not problem.has_groups:
            guess = free_guess if free_guess is not None else start > problem.lower
            solution = qp.solve_box(problem.cov, g, a, b, problem.lower, problem.upper, guess)
            if solution is not None:
                return solution
        c, d = _group_rows(problem)
        return qp.solve(problem.cov, g, a, b, c, d, problem.lower, problem.upper, start)
    except InputError as err:
        _name_singular(err, problem.assets)
        raise


def _name_singular(err: InputError, assets: tuple[str, ...]) -> None:
    if err.code == "covariance_singular" and "variables" in err.details:
        err.details["assets"] = [assets[i] for i in err.details["variables"] if i < len(assets)]
        if err.details["assets"]:
            err.constraint = "covariance"


def _binding(problem: _Problem, w: np.ndarray, extra: Sequence[str] = ()) -> tuple[str, ...]:
    tol = 1e-9
    out = [
        f"upper:{a}"
        for a, x, u in zip(problem.assets, w, problem.upper, strict=True)
        if x >= u - tol and u < 1
    ]
    out += [
        f"lower:{a}"
        for a, x, lo in zip(problem.assets, w, problem.lower, strict=True)
        if x <= lo + tol and lo != 0
    ]
    if problem.has_groups:
        sums = problem.group_matrix @ w
        for name, s, lo, up in zip(
            problem.group_names, sums, problem.group_lower, problem.group_upper, strict=True
        ):
            if s <= lo + tol and lo > 0:
                out.append(f"group_lower:{name}")
            if s >= up - tol and up < 1:
                out.append(f"group_upper:{name}")
    return (*out, *extra)


def _result(
    problem: _Problem,
    w: np.ndarray,
    method: str,
    residual: float,
    iterations: int,
    risk_free_rate: float,
    extra_binding: Sequence[str] = (),
) -> OptimalPortfolio:
    sigma_w = problem.cov @ w
    variance = float(w @ sigma_w)
    vol = float(np.sqrt(max(variance, 0.0)))
    ret = float(problem.mu @ w) if problem.mu is not None else None
    sharpe = (ret - risk_free_rate) / vol if ret is not None and vol > 0 else None
    contributions = w * sigma_w / variance if variance > 0 else np.full(w.size, np.nan)
    return OptimalPortfolio(
        assets=problem.assets,
        weights=w,
        expected_return=ret,
        volatility=vol,
        sharpe=sharpe,
        risk_contributions=contributions,
        kkt_residual=float(residual),
        method=method,
        risk_free_rate=risk_free_rate,
        binding=_binding(problem, w, extra_binding),
        iterations=iterations,
    )


def _min_variance_guess(problem: _Problem) -> np.ndarray:
    """Initial free set for minimum variance: the lowest-variance fifth of the assets (all of
    them for small problems)."""
    var = np.diagonal(problem.cov)
    if problem.n <= 60:
        return np.ones(problem.n, dtype=bool)
    return var <= np.quantile(var, 0.2)


def _budget(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.ones((1, n)), np.ones(1)


def _min_variance(problem: _Problem) -> qp.QPSolution:
    a, b = _budget(problem.n)
    start = _feasible_point(problem, -np.diagonal(problem.cov))
    return _solve_weights(problem, np.zeros(problem.n), a, b, start, _min_variance_guess(problem))


def min_volatility(
    cov: pd.DataFrame | np.ndarray,
    *,
    expected_returns: pd.Series | np.ndarray | None = None,
    constraints: Constraints | None = None,
    risk_free_rate: float = 0.0,
    assets: Sequence[str] | None = None,
) -> OptimalPortfolio:
    """The minimum-volatility portfolio: min w' Sigma w s.t. sum(w) = 1 and the constraints.
    `expected_returns` (optional) only fills in the reported return and Sharpe ratio."""
    problem = _prepare(expected_returns, cov, constraints, assets)
    _check_feasible(problem)
    sol = _min_variance(problem)
    return _result(problem, sol.x, "min_volatility", sol.residual, sol.iterations, risk_free_rate)


def max_quadratic_utility(
    expected_returns: pd.Series | np.ndarray,
    cov: pd.DataFrame | np.ndarray,
    risk_aversion: float = 1.0,
    *,
    constraints: Constraints | None = None,
    risk_free_rate: float = 0.0,
    assets: Sequence[str] | None = None,
) -> OptimalPortfolio:
    """max w'mu - (risk_aversion / 2) w' Sigma w  s.t. sum(w) = 1 and the constraints
    (PyPortfolioOpt's convention for the quadratic utility)."""
    if not risk_aversion > 0:
        raise InputError("risk aversion must be positive", code="invalid_input")
    problem = _prepare(expected_returns, cov, constraints, assets)
    _check_feasible(problem)
    assert problem.mu is not None
    a, b = _budget(problem.n)
    start = _feasible_point(problem, problem.mu)
    sol = _solve_weights(problem, -problem.mu / risk_aversion, a, b, start, None)
    return _result(
        problem, sol.x, "max_quadratic_utility", sol.residual, sol.iterations, risk_free_rate
    )


def _max_return_value(problem: _Problem) -> tuple[np.ndarray, float]:
    assert problem.mu is not None
    w = _max_return(problem)
    return w, float(problem.mu @ w)


def efficient_return(
    expected_returns: pd.Series | np.ndarray,
    cov: pd.DataFrame | np.ndarray,
    target_return: float,
    *,
    constraints: Constraints | None = None,
    risk_free_rate: float = 0.0,
    assets: Sequence[str] | None = None,
) -> OptimalPortfolio:
    """The minimum-volatility portfolio whose expected return is at least `target_return`
    (PyPortfolioOpt's convention: below the minimum-volatility portfolio's return the answer is
    that portfolio). Raises InfeasibleError (target_return_unreachable) above the maximum
    achievable return, with that maximum in `details["max_return"]`."""
    problem = _prepare(expected_returns, cov, constraints, assets)
    _check_feasible(problem)
    w_max, r_max = _max_return_value(problem)
    return _efficient_return(problem, target_return, w_max, r_max, risk_free_rate, None)


def _efficient_return(
    problem: _Problem,
    target: float,
    w_max: np.ndarray,
    r_max: float,
    risk_free_rate: float,
    previous: qp.QPSolution | None,
    min_var: qp.QPSolution | None = None,
) -> OptimalPortfolio:
    assert problem.mu is not None
    mu = problem.mu
    tol = 1e-12 * max(1.0, abs(r_max))
    if target > r_max + tol:
        raise InfeasibleError(
            f"target return {target:.4%} is above the maximum achievable {r_max:.4%}",
            code="target_return_unreachable",
            constraint="target_return",
            details={"target_return": float(target), "max_return": r_max},
        )
    if min_var is None:
        min_var = _min_variance(problem)
    r_min = float(mu @ min_var.x)
    if target <= r_min:
        return _result(
            problem,
            min_var.x,
            "efficient_return",
            min_var.residual,
            min_var.iterations,
            risk_free_rate,
        )
    if target >= r_max - tol:
        # Only the maximum-return portfolios meet the target: the least risky of them.
        return _max_return_least_risk(problem, w_max, r_max, risk_free_rate, "efficient_return")
    # Feasible start on the target: a mix of the minimum-variance and maximum-return points.
    base = previous.x if previous is not None else min_var.x
    r_base = float(mu @ base)
    theta = (target - r_base) / (r_max - r_base)
    start = (1 - theta) * base + theta * w_max
    a = np.vstack((np.ones(problem.n), mu))
    b = np.array([1.0, target])
    guess = (previous.free if previous is not None else min_var.free) | (w_max > problem.lower)
    sol = _solve_weights(problem, np.zeros(problem.n), a, b, start, guess)
    return _result(
        problem,
        sol.x,
        "efficient_return",
        sol.residual,
        sol.iterations,
        risk_free_rate,
        ("target_return",),
    )


def _max_return_least_risk(
    problem: _Problem, w_max: np.ndarray, r_max: float, risk_free_rate: float, method: str
) -> OptimalPortfolio:
    assert problem.mu is not None
    mu = problem.mu
    if not problem.has_groups:
        # The greedy fill stops at one marginal asset; the maximum is unique unless another
        # asset not at a bound ties with it.
        partial = (w_max > problem.lower) & (w_max < problem.upper)
        level = mu[partial].min() if partial.any() else mu[w_max > problem.lower].min()
        ties = np.isclose(mu, level, rtol=0.0, atol=1e-14 * max(1.0, abs(level)))
        if (
            int(np.sum(ties & (w_max < problem.upper)))
            + int(np.sum(ties & (w_max > problem.lower)))
            <= 2
        ):
            return _result(problem, w_max, method, 0.0, 0, risk_free_rate)
    a = np.vstack((np.ones(problem.n), mu))
    b = np.array([1.0, r_max])
    sol = _solve_weights(problem, np.zeros(problem.n), a, b, w_max, w_max > problem.lower)
    return _result(problem, sol.x, method, sol.residual, sol.iterations, risk_free_rate)


def max_sharpe(
    expected_returns: pd.Series | np.ndarray,
    cov: pd.DataFrame | np.ndarray,
    *,
    risk_free_rate: float = 0.0,
    constraints: Constraints | None = None,
    assets: Sequence[str] | None = None,
) -> OptimalPortfolio:
    """The tangency portfolio: max (w'mu - rf) / sqrt(w' Sigma w) s.t. sum(w) = 1 and the
    constraints. Solved exactly as  min y' Sigma y  s.t. (mu - rf)'y = 1, y in the cone of the
    constraints, w = y / sum(y); kkt_residual is that problem's. Raises InfeasibleError
    (no_excess_return) when no feasible portfolio earns more than the risk-free rate."""
    problem = _prepare(expected_returns, cov, constraints, assets)
    _check_feasible(problem)
    assert problem.mu is not None
    excess = problem.mu - risk_free_rate
    w_best = _feasible_point(problem, excess)
    best = float(excess @ w_best)
    if best <= 1e-14 * max(1.0, float(np.max(np.abs(excess)))):
        raise InfeasibleError(
            "no feasible portfolio has an expected return above the risk-free rate "
            f"(best excess return {best:.4%})",
            code="no_excess_return",
            constraint="risk_free_rate",
            details={"max_excess_return": best, "risk_free_rate": risk_free_rate},
        )
    n = problem.n
    y0 = w_best / best
    # Homogenise: bounds l <= w <= u become l*k <= y <= u*k with k = sum(y) > 0. The default
    # long-only bounds [0, 1] need no rows: y >= 0 and sum(y) = k already give y_i <= k.
    rows, rhs = [], []
    simple_lower = problem.lower == 0
    y_lower = np.where(simple_lower, 0.0, -np.inf)
    ones = np.ones(n)
    for i in np.flatnonzero(problem.upper < 1):
        row = -problem.upper[i] * ones
        row[i] += 1.0
        rows.append(row)
    for i in np.flatnonzero(~simple_lower):
        row = problem.lower[i] * ones
        row[i] -= 1.0
        rows.append(row)
    if np.any(~simple_lower):
        rows.append(-ones)  # k >= 0
    for k in range(len(problem.group_names)):
        members = problem.group_matrix[k]
        if problem.group_upper[k] < 1:
            rows.append(members - problem.group_upper[k] * ones)
        if problem.group_lower[k] > 0:
            rows.append(problem.group_lower[k] * ones - members)
    rhs = [0.0] * len(rows)
    a = excess.reshape(1, -1)
    b = np.ones(1)
    y_upper = np.full(n, np.inf)
    try:
        sol: qp.QPSolution | None = None
        if not rows:
            sharpe_guess = excess / np.diagonal(problem.cov)
            positive = sharpe_guess > 0
            guess = positive & (sharpe_guess >= np.quantile(sharpe_guess[positive], 0.8))
            sol = qp.solve_box(problem.cov, np.zeros(n), a, b, y_lower, y_upper, guess | (y0 > 0))
        if sol is None:
            c = np.array(rows).reshape(-1, n)
            sol = qp.solve(problem.cov, np.zeros(n), a, b, c, np.array(rhs), y_lower, y_upper, y0)
    except InputError as err:
        _name_singular(err, problem.assets)
        raise
    y = sol.x
    w = y / y.sum()
    # Scale the residual to the weights' units: y = k w with k = sum(y).
    return _result(
        problem,
        w,
        "max_sharpe",
        sol.residual / max(1.0, float(y.sum())),
        sol.iterations,
        risk_free_rate,
    )


def _path_direction(problem: _Problem, solution: qp.QPSolution) -> np.ndarray:
    """d w / d t along  min 1/2 w'Sigma w - t mu'w  with the active set of `solution` held:
    dw_F = Sigma_FF^-1 (mu_F + 1 nu) with 1'dw = 0; fixed weights do not move."""
    assert problem.mu is not None
    free = np.flatnonzero(solution.free)
    h = problem.cov[np.ix_(free, free)]
    rows = [np.ones(free.size)]
    if problem.has_groups and solution.active.size:
        c, _ = _group_rows(problem)
        rows += list(c[solution.active][:, free])
    e = np.array(rows)
    rhs = np.column_stack((problem.mu[free], e.T))
    solved = np.linalg.solve(h, rhs)
    u, v = solved[:, 0], solved[:, 1:]
    nu = np.linalg.lstsq(e @ v, -(e @ u), rcond=None)[0]
    out = np.zeros(problem.n)
    out[free] = u + v @ nu
    return out


def efficient_risk(
    expected_returns: pd.Series | np.ndarray,
    cov: pd.DataFrame | np.ndarray,
    target_volatility: float,
    *,
    constraints: Constraints | None = None,
    risk_free_rate: float = 0.0,
    assets: Sequence[str] | None = None,
) -> OptimalPortfolio:
    """The maximum-return portfolio whose volatility is at most `target_volatility`. Raises
    InfeasibleError (target_volatility_unreachable) below the minimum achievable volatility,
    with it in `details["min_volatility"]`. Above the volatility of the maximum-return
    portfolio the constraint does not bind and that portfolio is returned.

    Method: along t >= 0 the solutions of  min 1/2 w'Sigma w - t mu'w  trace the efficient
    frontier, piecewise linearly in t; on each piece the variance is a quadratic in t, so the
    target is met exactly on the right piece (found by following the pieces from the
    minimum-variance end, each checked by a warm-started solve). kkt_residual is that of the
    final quadratic programme, scaled to the weights' units."""
    problem = _prepare(expected_returns, cov, constraints, assets)
    _check_feasible(problem)
    assert problem.mu is not None
    mu, sigma = problem.mu, problem.cov
    target_var = float(target_volatility) ** 2
    min_var = _min_variance(problem)
    var0 = float(min_var.x @ sigma @ min_var.x)
    if target_var < var0 * (1 - 1e-12):
        raise InfeasibleError(
            f"target volatility {target_volatility:.4%} is below the minimum achievable "
            f"{np.sqrt(var0):.4%}",
            code="target_volatility_unreachable",
            constraint="target_volatility",
            details={
                "target_volatility": float(target_volatility),
                "min_volatility": np.sqrt(var0),
            },
        )
    w_max, r_max = _max_return_value(problem)
    top = _max_return_least_risk(problem, w_max, r_max, risk_free_rate, "efficient_risk")
    if top.volatility**2 <= target_var:
        return top
    a, b = _budget(problem.n)
    solution, t = min_var, 0.0
    t_low, t_high = 0.0, np.inf
    for _ in range(4 * problem.n + 50):
        direction = _path_direction(problem, solution)
        w0 = solution.x - t * direction
        # variance(t) = (w0 + t d)' Sigma (w0 + t d) = c0 + 2 c1 t + c2 t^2
        sd = sigma @ direction
        c0, c1, c2 = float(w0 @ sigma @ w0), float(w0 @ sd), float(direction @ sd)
        t_new = np.inf
        if c2 > 0:
            disc = c1 * c1 - c2 * (c0 - target_var)
            t_new = (-c1 + np.sqrt(max(disc, 0.0))) / c2
        on_piece = bool(t_low < t_new < t_high)
        if not on_piece:
            t_new = (t_low + t_high) / 2 if np.isfinite(t_high) else max(2 * t_low, t_low + 1.0)
        start = solution.x
        new = _solve_weights(problem, -t_new * mu, a, b, start, solution.free)
        var_new = float(new.x @ sigma @ new.x)
        same_face = (
            on_piece
            and np.array_equal(new.free, solution.free)
            and np.array_equal(new.active, solution.active)
        )
        if abs(var_new - target_var) <= 1e-13 * target_var or same_face:
            # Dividing the QP's stationarity by t gives the conditions of the
            # volatility-constrained problem (multiplier 1/(2t) on the variance).
            residual = max(new.residual / t_new, abs(var_new - target_var))
            return _result(
                problem,
                new.x,
                "efficient_risk",
                residual,
                new.iterations,
                risk_free_rate,
                ("target_volatility",),
            )
        if var_new < target_var:
            t_low = t_new
        else:
            t_high = t_new
        solution, t = new, t_new
    raise InfeasibleError(
        "efficient_risk could not locate the target on the frontier",
        code="not_converged",
        constraint="target_volatility",
    )


def efficient_frontier(
    expected_returns: pd.Series | np.ndarray,
    cov: pd.DataFrame | np.ndarray,
    n_points: int = 20,
    *,
    constraints: Constraints | None = None,
    risk_free_rate: float = 0.0,
    assets: Sequence[str] | None = None,
) -> Frontier:
    """`n_points` efficient portfolios at evenly spaced target returns from the
    minimum-volatility portfolio's return to the maximum achievable return (both included)."""
    if n_points < 2:
        raise InputError("a frontier needs at least 2 points", code="invalid_input")
    problem = _prepare(expected_returns, cov, constraints, assets)
    _check_feasible(problem)
    assert problem.mu is not None
    min_var = _min_variance(problem)
    w_max, r_max = _max_return_value(problem)
    r_min = float(problem.mu @ min_var.x)
    targets = np.linspace(r_min, r_max, n_points)
    points: list[OptimalPortfolio] = []
    previous: qp.QPSolution | None = None
    for target in targets:
        point = _efficient_return(
            problem, float(target), w_max, r_max, risk_free_rate, previous, min_var
        )
        points.append(point)
        previous = qp.QPSolution(
            x=point.weights,
            lam=np.zeros(0),
            nu=np.zeros(0),
            z=np.zeros(0),
            free=point.weights > problem.lower + 1e-12,
            active=np.zeros(0, dtype=bool),
            residual=point.kkt_residual,
            iterations=0,
        )
    return Frontier(
        assets=problem.assets,
        returns=np.array([p.expected_return for p in points], dtype=float),
        volatilities=np.array([p.volatility for p in points]),
        sharpe=np.array([p.sharpe for p in points], dtype=float),
        weights=np.array([p.weights for p in points]),
        kkt_residuals=np.array([p.kkt_residual for p in points]),
        risk_free_rate=risk_free_rate,
        portfolios=tuple(points),
    )
