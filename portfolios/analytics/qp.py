"""Dense solvers for the small convex quadratic programmes of portfolio construction (a few
to a few hundred assets).

    minimise    1/2 x'Hx + g'x
    subject to  A x  = b            equality rows (the budget 1'x = 1, a target return)
                C x <= d            inequality rows (group limits, homogenised bounds)
                lower <= x <= upper (per-variable bounds; -inf/+inf allowed)

Why dedicated solvers: long-only portfolio problems have few assets in the answer (a few
dozen out of hundreds), so the work is a few small linear systems on the assets held, where a
general conic solver factorises the whole problem many times.

- `solve_box` (bounds and equality rows only): block principal pivoting from a guess of the
  free variables, a handful of steps, each one Cholesky factorisation of H restricted to the
  free variables and a Schur complement for the rows.
- `solve_box_path`: the same pivoting for the point of the path x(t) = argmin 1/2 x'Hx - t c'x
  where x'Hx meets a level (efficient risk: the frontier point of a given variance).
- `solve` (any rows): a primal active-set method from a feasible point, one variable or row
  per step, Bland's rule after a degenerate step; it always terminates and is the fallback
  when pivoting does not finish.

The blocks are small and every factorisation and triangular solve stays on the calling
thread (see `_solve_lower`): on a machine shared with other processes, waking BLAS worker
threads costs more than these solves.

For `solve` the caller supplies a feasible starting point (see `portfolios.analytics.optimize`,
which builds one by a greedy fill or a linear programme and reports infeasibility with the
constraint's name). H must be positive definite on the free variables; when it is not, the
covariance is singular where it matters: `solve` raises `InputError(code=
"covariance_singular")` with the free variable indices in `details["variables"]`, and the
pivoting solvers return None (the caller falls back to `solve`).

Multipliers follow  H x + g + A'lam + C'nu - z = 0,  nu >= 0, and z >= 0 at a lower bound,
z <= 0 at an upper bound, z = 0 for a free variable. `residual` is the largest violation of
any optimality condition (stationarity, primal and dual feasibility) in the units of the
gradient (for the covariance in annual units: annual variance per unit of weight) or of the
constraints; nothing is returned without it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

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


@functools.cache
def _linalg() -> tuple[ModuleType, ModuleType]:
    # scipy.linalg takes ~0.1 s to import: only on first use, never at package import.
    from scipy.linalg import blas, lapack

    return blas, lapack


def _block(h: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """h[rows][:, cols]; two `take`s copy less than one fancy index with np.ix_."""
    return h.take(rows, axis=0).take(cols, axis=1)


def _cholesky(h_ff: np.ndarray) -> np.ndarray | None:
    """The lower Cholesky factor of H_FF, or None when H_FF is not safely positive definite
    (a squared pivot below 1e-13 of its largest diagonal entry)."""
    chol, info = _linalg()[1].dpotrf(h_ff, lower=1, clean=1, overwrite_a=0)
    if info != 0:
        return None
    if chol.diagonal().min() ** 2 <= 1e-13 * max(float(h_ff.diagonal().max()), 1e-300):
        return None
    return chol


def _solve_lower(chol: np.ndarray, rhs: np.ndarray, *, transposed: bool = False) -> np.ndarray:
    """L^-1 rhs, or L^-T rhs when `transposed`; rhs a vector or a matrix of columns."""
    # BLAS trsv/trsm rather than LAPACK trtrs: OpenBLAS runs trtrs with several right-hand
    # sides on all its threads whatever the size, and handing a 50 x 2 solve to a sleeping
    # thread costs ~0.1 ms (milliseconds on a busy machine); these stay on this thread.
    blas = _linalg()[0]
    if rhs.ndim == 1:
        return blas.dtrsv(chol, rhs, lower=1, trans=int(transposed))
    return blas.dtrsm(1.0, chol, rhs, lower=1, trans_a=int(transposed))


def face_step(
    h_ff: np.ndarray, e: np.ndarray, q_f: np.ndarray, free_index: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Solve  H_FF p - E'mu = -q_F,  E p = 0  for (p, mu) through a Cholesky factor of H_FF:
    the step from a point with gradient q to the minimum on the face where the variables
    outside F are held and the rows E hold with equality. Raises InputError
    (covariance_singular, the variables of F in details) when H_FF is not positive definite."""
    chol = _cholesky(h_ff)
    if chol is None:
        raise InputError(
            "the covariance matrix is singular on the assets in the solution; "
            "use a shrinkage estimator or repair it (risk_models.repair_psd)",
            code="covariance_singular",
            details={"variables": [int(i) for i in free_index]},
        )
    u = _solve_lower(chol, q_f)
    if e.shape[0]:
        v = _solve_lower(chol, e.T)
        mu = _small_solve(v.T @ v, v.T @ u)
        w = v @ mu - u
    else:
        mu = np.zeros(0)
        w = -u
    return _solve_lower(chol, w, transposed=True), mu


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
        e = np.vstack((a[:, free_index], _block(c, rows, free_index)))
        p, mu = face_step(_block(h, free_index, free_index), e, q[free_index], free_index)
        x_scale = max(1.0, float(np.max(np.abs(x))))
        # A face with no more free variables than rows is a single point, and a step below
        # 1e-12 of the weights is the rounding of the solve on an ill-conditioned face (an
        # asset with a tiny variance, such as cash): neither is a direction to walk, else the
        # iteration takes the same rounding step for ever.
        if (
            free_index.size <= e.shape[0]
            or float(np.max(np.abs(p), initial=0.0)) <= 1e-12 * x_scale
        ):
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


def _face_factor(
    h: np.ndarray, a: np.ndarray, fi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """For the free variables `fi`: the Cholesky factor L of H_FF, V = L^-1 A_F' and the Schur
    matrix V'V. None when H_FF is not safely positive definite or V'V has a condition number
    above 1e12 (the rows are nearly dependent on the free variables)."""
    chol = _cholesky(_block(h, fi, fi))
    if chol is None:
        return None
    v = _solve_lower(chol, a[:, fi].T)
    schur = v.T @ v
    if schur.shape[0] == 1:
        return (chol, v, schur) if schur[0, 0] > 0.0 else None
    eigenvalues = np.linalg.eigvalsh(schur)
    return (chol, v, schur) if eigenvalues[0] * 1e12 > eigenvalues[-1] else None


def _face_point(
    factor: tuple[np.ndarray, np.ndarray, np.ndarray], c_f: np.ndarray, beta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """x_F minimising 1/2 x_F'H_FF x_F + c_F'x_F subject to A_F x_F = beta, and mu with
    H_FF x_F + c_F = A_F' mu:  u = L^-1 c_F,  (V'V) mu = beta + V'u,  x_F = L^-T (V mu - u)."""
    chol, v, schur = factor
    u = _solve_lower(chol, c_f)
    r = beta + v.T @ u
    mu = r / schur[0, 0] if schur.shape[0] == 1 else np.linalg.solve(schur, r)
    return _solve_lower(chol, v @ mu - u, transposed=True), mu


_Face = tuple[np.ndarray, np.ndarray, np.ndarray, float, float]


def _pivot(
    face: Callable[[np.ndarray, np.ndarray], _Face | None],
    a: np.ndarray,
    b: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    free0: np.ndarray,
    max_iter: int,
) -> tuple[QPSolution, float] | None:
    """Block principal pivoting (Judice and Pires 1994) over the bounds. `face(free, x)`, with
    x holding the fixed variables at their bounds (0 where free), returns the point on that
    face, the multipliers z (H x + g + A'lam) and lam, the gradient's size (for tolerances)
    and a value passed through to the caller; or None when the face cannot be solved.

    Each step frees the fixed variables whose multiplier has the wrong sign and fixes the free
    ones outside their bounds, all at once while the number of such variables falls (with
    three more tries), then one at a time by the largest index (Murty's rule), which cannot
    cycle. Returns (solution, passed-through value) or None (the face failed, or the cap)."""
    n = lower.size
    free = np.array(free0, dtype=bool)
    at_upper = ~free & ~np.isfinite(lower) & np.isfinite(upper)
    # Pivoting fixes a variable only at the bound it crossed, so only the start can hold one
    # at an infinite bound.
    if not np.isfinite(np.where(at_upper, upper, lower)[~free]).all():
        return None
    movable = lower != upper
    best, tries = n + 1, 3
    for iteration in range(1, max_iter + 1):
        x = np.where(at_upper, upper, lower)
        x[free] = 0.0
        point = face(free, x)
        if point is None:
            return None
        x, z, lam, scale, passed = point
        # Fixed variables sit exactly on a bound, so only free ones can be below or above.
        tol = 1e-13 * max(1.0, float(abs(x).max()))
        below = x < lower - tol
        above = x > upper + tol
        wrong = (np.where(at_upper, -z, z) < -1e-11 * max(scale, 1e-300)) & movable & ~free
        bad = below | above | wrong
        count = int(np.count_nonzero(bad))
        if count == 0:
            x = np.clip(x, lower, upper)
            stationarity = float(abs(z[free]).max(initial=0.0))
            z[free] = 0.0
            at_lower = ~free & ~at_upper
            primal = float(abs(a @ x - b).max(initial=0.0))
            dual = max(
                float((-z[at_lower & movable]).max(initial=0.0)),
                float(z[at_upper & movable].max(initial=0.0)),
            )
            solution = QPSolution(
                x=x,
                lam=lam,
                nu=np.zeros(0),
                z=z,
                free=free,
                active=np.zeros(0, dtype=bool),
                residual=max(stationarity, primal, dual),
                iterations=iteration,
            )
            return solution, passed
        if count < best:
            best, tries = count, 3
            change = bad
        elif tries > 0:
            tries -= 1
            change = bad
        else:
            change = np.zeros(n, dtype=bool)
            change[int(bad.nonzero()[0][-1])] = True
        # Changed variables swap sides: a free one is fixed at the bound it crossed, a fixed
        # one is freed (at_upper is kept False for free variables).
        free = free ^ change
        at_upper = np.where(change, above, at_upper)
    return None


def _held(
    h: np.ndarray, a: np.ndarray, fi: np.ndarray, x: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """H_FB x_B and A_B x_B for the variables held away from zero (None when there are none,
    as for long-only weights, whose fixed variables all sit at 0)."""
    held = x.nonzero()[0]
    if held.size == 0:
        return None, None
    return _block(h, fi, held) @ x[held], a[:, held] @ x[held]


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
    """Block principal pivoting (see `_pivot`) for bounds plus equality rows only.

    Changes many bounds per step, so it needs a handful of small solves where the one-at-a-time
    method needs one per asset in the answer. `free0` is the initial guess of the free set
    (variables not in it start at the nearer finite bound, lower first). Returns None when it
    cannot finish (an equality left without free variables, a singular block, or the iteration
    cap): the caller then runs the primal active-set `solve`, which always terminates.
    """
    m = a.shape[0]
    g_scale = float(abs(g).max(initial=0.0))

    def face(free: np.ndarray, x: np.ndarray) -> _Face | None:
        fi = free.nonzero()[0]
        if fi.size < m:
            return None
        factor = _face_factor(h, a, fi)
        if factor is None:
            return None
        h_held, a_held = _held(h, a, fi, x)
        c_f = g[fi] if h_held is None else g[fi] + h_held
        x[fi], mu = _face_point(factor, c_f, b if a_held is None else b - a_held)
        q = h @ x + g
        return x, q - a.T @ mu, -mu, max(float(abs(q).max()), g_scale), 0.0

    found = _pivot(face, a, b, lower, upper, free0, max_iter)
    return None if found is None else found[0]


def solve_box_path(
    h: np.ndarray,
    c: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    free0: np.ndarray,
    level: float,
    *,
    max_iter: int = 60,
) -> tuple[QPSolution, float] | None:
    """The point of the path  x(t) = argmin 1/2 x'Hx - t c'x  (t > 0; bounds and equality rows
    as in `solve_box`) where x'Hx = level, and its t. On each face x is affine in t and x'Hx a
    quadratic, so every pivoting step meets the level exactly on its face and checks the signs
    there: the path and the level are found together. The solution is that of the QP at t
    (residual in its units). None when a face has no t > 0 on the level, or pivoting does
    not finish: the caller then follows the path piece by piece."""
    n, m = lower.size, a.shape[0]
    c_scale = float(abs(c).max(initial=0.0))

    def face(free: np.ndarray, x: np.ndarray) -> _Face | None:
        fi = free.nonzero()[0]
        if fi.size < m:
            return None
        factor = _face_factor(h, a, fi)
        if factor is None:
            return None
        # Two solves at once: x(t) = path[:, 0] + t path[:, 1], column 0 from the held
        # variables and the rows' right-hand sides, column 1 from -c.
        rhs = np.zeros((fi.size, 2))
        rhs[:, 1] = -c[fi]
        beta = np.zeros((m, 2))
        beta[:, 0] = b
        h_held, a_held = _held(h, a, fi, x)
        if h_held is not None and a_held is not None:
            rhs[:, 0] = h_held
            beta[:, 0] -= a_held
        points, mus = _face_point(factor, rhs, beta)
        path = np.zeros((n, 2))
        path[:, 0] = x
        path[fi] = points
        h_path = h @ path
        # x(t)'H x(t) = v0 + 2 v1 t + v2 t^2 on this face.
        (v0, v1), (_, v2) = path.T @ h_path
        disc = v1 * v1 - v2 * (v0 - level)
        if not (v2 > 0.0 and disc >= 0.0):
            return None
        t = float((-v1 + np.sqrt(disc)) / v2)
        if not t > 0.0:
            return None
        at_t = np.array([1.0, t])
        q = h_path @ at_t - t * c
        lam = -(mus @ at_t)
        return path @ at_t, q + a.T @ lam, lam, max(float(abs(q).max()), t * c_scale), t

    return _pivot(face, a, b, lower, upper, free0, max_iter)
