"""A dense primal active-set solver for the small convex quadratic programmes of portfolio
construction (a few to a few hundred assets).

    minimise    1/2 x'Hx + g'x
    subject to  A x  = b            equality rows (the budget 1'x = 1, a target return)
                C x <= d            inequality rows (group limits, homogenised bounds)
                lower <= x <= upper (per-variable bounds; -inf/+inf allowed)

Why a dedicated solver: long-only portfolio problems have few assets in the answer (a few
dozen out of hundreds), so an active-set method that starts from a vertex and frees one asset
at a time solves a small linear system per step, where a general conic solver factorises the
whole problem many times. Each step solves the equality-constrained subproblem on the free
variables through a Cholesky factor of H restricted to them and a Schur complement for the
active rows.

The caller supplies a feasible starting point (see `portfolios.analytics.optimize`, which builds
one by a greedy fill or a linear programme and reports infeasibility with the constraint's
name). H must be positive definite on the free variables; when it is not, the covariance is
singular where it matters and `InputError(code="covariance_singular")` is raised with the free
variable indices in `details["variables"]`.

Multipliers follow  H x + g + A'lam + C'nu - z = 0,  nu >= 0, and z >= 0 at a lower bound,
z <= 0 at an upper bound, z = 0 for a free variable. `residual` is the largest violation of
any optimality condition (stationarity, primal and dual feasibility) in the units of the
gradient (for the covariance in annual units: annual variance per unit of weight) or of the
constraints; nothing is returned without it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from portfolios.analytics.errors import ConvergenceError, InputError


@dataclass(frozen=True)
class QPSolution:
    """x: optimum; lam, nu, z: multipliers (see module docstring); free: variables strictly
    inside their bounds; active: inequality rows holding with equality; residual: largest
    KKT violation; iterations: active-set changes made."""

    x: np.ndarray
    lam: np.ndarray
    nu: np.ndarray
    z: np.ndarray
    free: np.ndarray
    active: np.ndarray
    residual: float
    iterations: int


def _lapack():  # type: ignore[no-untyped-def]
    # scipy.linalg takes ~0.1 s to import: only on first use, never at package import.
    from scipy.linalg import lapack

    return lapack


def _eqp_step(
    h_ff: np.ndarray, e: np.ndarray, q_f: np.ndarray, free_index: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Solve  H_FF p - E'mu = -q_F,  E p = 0  for (p, mu) through a Cholesky factor of H_FF."""
    lapack = _lapack()
    k = h_ff.shape[0]
    chol, info = lapack.dpotrf(h_ff, lower=1, clean=1, overwrite_a=0)
    diag = np.diag(chol) if info == 0 else np.zeros(1)
    if info != 0 or diag.min() ** 2 <= 1e-13 * max(float(np.max(np.diag(h_ff))), 1e-300):
        raise InputError(
            "the covariance matrix is singular on the assets in the solution; "
            "use a shrinkage estimator or repair it (risk_models.repair_psd)",
            code="covariance_singular",
            details={"variables": [int(i) for i in free_index]},
        )
    m = e.shape[0]
    rhs = np.empty((k, 1 + m))
    rhs[:, 0] = q_f
    if m:
        rhs[:, 1:] = e.T
    solved, _ = lapack.dtrtrs(chol, rhs, lower=1)
    u = solved[:, 0]
    if m:
        v = solved[:, 1:]
        schur = v.T @ v
        mu = _small_solve(schur, v.T @ u)
        w = v @ mu - u
    else:
        mu = np.zeros(0)
        w = -u
    p, _ = lapack.dtrtrs(chol, w, lower=1, trans=1)
    return p, mu


def _small_solve(s: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Solve the (m, m) Schur system; m is 1 or 2 in practice, least squares if singular."""
    if s.shape[0] == 1 and s[0, 0] > 0.0:
        return r / s[0, 0]
    try:
        return np.linalg.solve(s, r)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(s, r, rcond=1e-13)[0]


def _rank_completing_free(a: np.ndarray, free: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Free extra variables until the equality rows restricted to the free set have full row
    rank (a vertex start may fix every variable an equality needs)."""
    m = a.shape[0]
    if m == 0:
        return free
    free = free.copy()
    target = np.linalg.matrix_rank(a)
    order = np.argsort(-np.abs(x))
    for j in order:
        if np.linalg.matrix_rank(a[:, free]) >= target:
            break
        if not free[j] and np.any(a[:, j] != 0):
            free[j] = True
    return free


def solve(
    h: np.ndarray,
    g: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    d: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    x0: np.ndarray,
    *,
    max_iter: int | None = None,
) -> QPSolution:
    """Minimise 1/2 x'Hx + g'x over the polyhedron, starting from the feasible point x0.

    Shapes: h (n, n), g (n,), a (m_eq, n), b (m_eq,), c (m_in, n), d (m_in,), lower/upper
    (n,), x0 (n,). x0 must satisfy every constraint (to rounding); variables at a bound in x0
    start fixed there. Raises InputError (covariance_singular) or ConvergenceError.
    """
    n = h.shape[0]
    m_eq, m_in = a.shape[0], c.shape[0]
    x = np.array(x0, dtype=float)
    span = np.maximum(1.0, np.abs(x))
    at_lower = x <= lower + 1e-13 * span
    at_upper = (x >= upper - 1e-13 * span) & ~at_lower
    x[at_lower] = lower[at_lower]
    x[at_upper] = upper[at_upper]
    pinned = lower == upper
    free = ~(at_lower | at_upper)
    free = _rank_completing_free(a, free, x)
    at_lower &= ~free
    at_upper &= ~free
    active = np.zeros(m_in, dtype=bool)
    q = h @ x + g
    cx = c @ x
    if max_iter is None:
        max_iter = 10 * (n + m_in) + 100
    iterations = 0
    mu = np.zeros(m_eq)
    degenerate = False  # after a zero-length step, choose by Bland's rule (no cycling)
    while True:
        iterations += 1
        if iterations > max_iter:
            raise ConvergenceError(
                f"active-set QP did not converge in {max_iter} iterations",
                code="not_converged",
                details={"iterations": max_iter},
            )
        free_index = np.flatnonzero(free)
        rows = np.flatnonzero(active)
        e = np.vstack((a[:, free_index], c[np.ix_(rows, free_index)]))
        p, mu = _eqp_step(h[np.ix_(free_index, free_index)], e, q[free_index], free_index)
        x_scale = max(1.0, float(np.max(np.abs(x))))
        if free_index.size == 0 or float(np.max(np.abs(p), initial=0.0)) <= 1e-14 * x_scale:
            # Stationary on the working set: check the signs of the multipliers.
            lam = -mu[:m_eq]
            nu = -mu[m_eq:]
            z = q + a.T @ lam + c[rows].T @ nu
            violation = np.zeros(n)
            violation[at_lower] = -z[at_lower]
            violation[at_upper] = z[at_upper]
            violation[pinned] = 0.0
            row_violation = -nu
            worst_var = float(violation.max(initial=0.0))
            worst_row = float(row_violation.max(initial=0.0))
            tol = 1e-11 * max(float(np.max(np.abs(q))), float(np.max(np.abs(g))), 1e-300)
            if max(worst_var, worst_row) <= tol:
                break
            if degenerate:
                candidates = np.flatnonzero(violation > tol)
                row_candidates = np.flatnonzero(row_violation > tol)
                if candidates.size:
                    j = int(candidates[0])
                    free[j] = True
                    at_lower[j] = at_upper[j] = False
                else:
                    active[rows[int(row_candidates[0])]] = False
                continue
            if worst_var >= worst_row:
                j = int(np.argmax(violation))
                free[j] = True
                at_lower[j] = at_upper[j] = False
            else:
                active[rows[int(np.argmax(row_violation))]] = False
            continue
        # Step towards the subproblem's minimum, stopping at the first constraint in the way.
        x_f = x[free_index]
        alpha, block_var, block_row = 1.0, -1, -1
        tiny = 1e-15 * x_scale
        down = p < -tiny
        if np.any(down):
            ratios = (lower[free_index][down] - x_f[down]) / p[down]
            k = int(np.argmin(ratios))
            if ratios[k] < alpha:
                alpha, block_var = (
                    max(float(ratios[k]), 0.0),
                    int(free_index[np.flatnonzero(down)[k]]),
                )
        up = p > tiny
        if np.any(up):
            ratios = (upper[free_index][up] - x_f[up]) / p[up]
            k = int(np.argmin(ratios))
            if ratios[k] < alpha:
                alpha, block_var = (
                    max(float(ratios[k]), 0.0),
                    int(free_index[np.flatnonzero(up)[k]]),
                )
        cp = c[:, free_index] @ p if m_in else np.zeros(0)
        if m_in:
            rising = (cp > 1e-15 * max(1.0, float(np.max(np.abs(cp))))) & ~active
            if np.any(rising):
                ratios = (d[rising] - cx[rising]) / cp[rising]
                k = int(np.argmin(ratios))
                if ratios[k] < alpha:
                    alpha = max(float(ratios[k]), 0.0)
                    block_row, block_var = int(np.flatnonzero(rising)[k]), -1
        degenerate = alpha == 0.0
        x[free_index] = x_f + alpha * p
        q += alpha * (h[:, free_index] @ p)
        if m_in:
            cx += alpha * cp
        if block_var >= 0:
            free[block_var] = False
            if p[np.searchsorted(free_index, block_var)] < 0:
                at_lower[block_var], x[block_var] = True, lower[block_var]
            else:
                at_upper[block_var], x[block_var] = True, upper[block_var]
        elif block_row >= 0:
            active[block_row] = True
    # Final KKT residual, recomputed from scratch rather than trusted from the iteration.
    q = h @ x + g
    rows = np.flatnonzero(active)
    lam = -mu[:m_eq]
    nu_active = -mu[m_eq:]
    nu = np.zeros(m_in)
    nu[rows] = nu_active
    z = q + a.T @ lam + c.T @ nu
    stationarity = float(np.max(np.abs(z[free]), initial=0.0))
    dual = max(
        float(np.max(-z[at_lower & ~pinned], initial=0.0)),
        float(np.max(z[at_upper & ~pinned], initial=0.0)),
        float(np.max(-nu, initial=0.0)),
    )
    primal = max(
        float(np.max(np.abs(a @ x - b), initial=0.0)),
        float(np.max(c @ x - d, initial=0.0)),
        float(np.max(lower - x, initial=0.0)),
        float(np.max(x - upper, initial=0.0)),
    )
    z[free] = 0.0
    return QPSolution(
        x=x,
        lam=lam,
        nu=nu,
        z=z,
        free=free,
        active=active,
        residual=max(stationarity, dual, primal),
        iterations=iterations,
    )


def solve_box(
    h: np.ndarray,
    g: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    free0: np.ndarray,
    *,
    max_iter: int = 60,
) -> QPSolution | None:
    """Block principal pivoting (Judice and Pires 1994) for bounds plus equality rows only.

    Changes many bounds per step, so it needs a handful of small solves where the one-at-a-time
    method needs one per asset in the answer. `free0` is the initial guess of the free set
    (variables not in it start at the nearer finite bound, lower first). Block exchanges are
    used while the number of infeasibilities falls (with three more tries), then single
    exchanges by the largest index (Murty's rule). Returns None when it cannot finish (an
    equality left without free variables, or the iteration cap): the caller then runs the
    primal active-set `solve`, which always terminates.
    """
    n = h.shape[0]
    m = a.shape[0]
    free = np.array(free0, dtype=bool)
    at_upper = ~free & ~np.isfinite(lower) & np.isfinite(upper)
    pinned = lower == upper
    best, tries = n + 1, 3
    lapack = _lapack()
    for iteration in range(1, max_iter + 1):
        fixed_value = np.where(at_upper, upper, lower)
        x = np.where(free, 0.0, fixed_value)
        if np.any(~free & ~np.isfinite(x)):
            return None
        fi = np.flatnonzero(free)
        k = fi.size
        if k < m:
            return None
        c_f = g[fi] + h[np.ix_(fi, np.flatnonzero(~free))] @ x[~free] if k < n else g[fi].copy()
        beta = b - a[:, ~free] @ x[~free]
        h_ff = h[np.ix_(fi, fi)]
        chol, info = lapack.dpotrf(h_ff, lower=1, clean=1, overwrite_a=0)
        if info != 0 or np.diag(chol).min() ** 2 <= 1e-13 * max(
            float(h_ff.diagonal().max()), 1e-300
        ):
            return None
        rhs = np.empty((k, 1 + m))
        rhs[:, 0] = c_f
        rhs[:, 1:] = a[:, fi].T
        solved, _ = lapack.dtrtrs(chol, rhs, lower=1)
        u = solved[:, 0]
        if m:
            v = solved[:, 1:]
            schur = v.T @ v
            if np.linalg.cond(schur) > 1e12:
                return None
            mu = np.linalg.solve(schur, beta + v.T @ u)
            w = v @ mu - u
        else:
            mu = np.zeros(0)
            w = -u
        x_f, _ = lapack.dtrtrs(chol, w, lower=1, trans=1)
        x[fi] = x_f
        q = h @ x + g
        z = q - a.T @ mu
        span = max(1.0, float(np.max(np.abs(x))))
        ztol = 1e-11 * max(float(np.max(np.abs(q))), float(np.max(np.abs(g))), 1e-300)
        below = free & (x < lower - 1e-13 * span)
        above = free & (x > upper + 1e-13 * span)
        wrong = ~free & ~pinned & np.where(at_upper, z > ztol, z < -ztol)
        bad = below | above | wrong
        count = int(bad.sum())
        if count == 0:
            x = np.clip(x, lower, upper)
            z[free] = 0.0
            at_lower = ~free & ~at_upper
            stationarity = float(np.max(np.abs((q - a.T @ mu)[free]), initial=0.0))
            primal = float(np.max(np.abs(a @ x - b), initial=0.0))
            dual = max(
                float(np.max(-z[at_lower & ~pinned], initial=0.0)),
                float(np.max(z[at_upper & ~pinned], initial=0.0)),
            )
            return QPSolution(
                x=x,
                lam=-mu,
                nu=np.zeros(0),
                z=z,
                free=free,
                active=np.zeros(0, dtype=bool),
                residual=max(stationarity, primal, dual),
                iterations=iteration,
            )
        if count < best:
            best, tries = count, 3
            change = bad
        elif tries > 0:
            tries -= 1
            change = bad
        else:
            change = np.zeros(n, dtype=bool)
            change[int(np.flatnonzero(bad)[-1])] = True
        free = np.where(change, ~free, free)
        at_upper = np.where(
            change & above, True, np.where(change & (below | wrong), False, at_upper)
        )
    return None
