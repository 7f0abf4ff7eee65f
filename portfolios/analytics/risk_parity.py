"""Risk parity: equal risk contribution, risk budgets, and inverse volatility.

Weights are fractions summing to 1, long-only. An asset's risk contribution is its share of
the portfolio variance, w_i (Sigma w)_i / w' Sigma w; risk parity makes these equal to the
budgets b (1/n each by default).

Method (Spinu 2013): the budgets are met exactly by the unique minimiser of the strictly
convex  f(y) = 1/2 y' Sigma y - sum_i b_i log y_i  over y > 0, and w = y / sum(y). Newton's
method with a backtracking line search that keeps y > 0 converges quadratically from the
inverse-volatility start, in a handful of iterations. Each Newton system
(Sigma + diag(b / y^2)) s = -grad is solved by conjugate gradients preconditioned by its
diagonal, to a relative residual of min(0.1, |grad|) (fast enough for quadratic
convergence): the diagonal term dominates the directions where Sigma is small, so a few
matrix-vector products per step suffice where a factorisation costs n^3/3 operations (and,
on a machine shared with other processes, waits for BLAS threads).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from portfolios.analytics.errors import ConvergenceError, InputError
from portfolios.analytics.optimize import OptimalPortfolio, _prepare, _result


def risk_parity(
    cov: pd.DataFrame | np.ndarray,
    *,
    budgets: Sequence[float] | pd.Series | None = None,
    expected_returns: pd.Series | np.ndarray | None = None,
    risk_free_rate: float = 0.0,
    assets: Sequence[str] | None = None,
    tol: float = 1e-12,
    max_iter: int = 100,
) -> OptimalPortfolio:
    """Long-only weights whose risk contributions equal `budgets` (positive, normalised to sum
    to 1; equal by default). kkt_residual: max_i |risk contribution_i - b_i|."""
    problem = _prepare(expected_returns, cov, None, assets)
    sigma, n = problem.cov, problem.n
    if budgets is None:
        b = np.full(n, 1.0 / n)
    else:
        if isinstance(budgets, pd.Series):
            b = budgets.reindex(list(problem.assets)).to_numpy(dtype=float)
        else:
            b = np.asarray(budgets, dtype=float)
        if b.shape != (n,) or not np.all(np.isfinite(b)) or np.any(b <= 0):
            raise InputError(
                "risk budgets must be positive, one per asset",
                code="invalid_input",
                constraint="budgets",
            )
        b = b / b.sum()
    vol = np.sqrt(np.diagonal(sigma))
    if np.any(vol <= 0):
        raise InputError(
            "risk parity needs every asset to have positive variance",
            code="covariance_singular",
            constraint="covariance",
        )
    y = b / vol
    start_variance = float(y @ sigma @ y)
    if not start_variance > 0:
        raise _not_psd()
    y /= np.sqrt(start_variance)  # at the optimum y' Sigma y = sum(b) = 1
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007
        sy = sigma @ y
        grad = sy - b / y
        step = _newton_step(sigma, b / (y * y), grad)
        decrement = float(-grad @ step)
        if decrement <= tol * tol:
            break
        # Backtracking: stay inside y > 0 and decrease f.
        neg = step < 0
        alpha = min(1.0, 0.95 * float(np.min(-y[neg] / step[neg]))) if np.any(neg) else 1.0
        f0 = 0.5 * y @ sy - b @ np.log(y)
        # Near the optimum the decrease (about decrement / 2) falls below the rounding of f:
        # without this allowance the search would reject every full step there and stall.
        noise = 64 * np.finfo(float).eps * (abs(f0) + 1.0)
        while True:
            y_new = y + alpha * step
            f1 = 0.5 * y_new @ sigma @ y_new - b @ np.log(y_new)
            if f1 <= f0 - 0.25 * alpha * decrement + noise or alpha < 1e-12:
                break
            alpha *= 0.5
        y = y_new
    else:
        raise ConvergenceError(
            "risk parity Newton iteration did not converge",
            code="not_converged",
            details={"iterations": max_iter},
        )
    w = y / y.sum()
    result = _result(problem, w, "risk_parity", 0.0, iterations, risk_free_rate)
    residual = float(np.max(np.abs(result.risk_contributions - b)))
    return OptimalPortfolio(**{**result.__dict__, "kkt_residual": residual})


def _not_psd() -> InputError:
    return InputError(
        "covariance is not positive semi-definite",
        code="covariance_not_psd",
        constraint="covariance",
    )


def _newton_step(sigma: np.ndarray, curvature: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """Solve (Sigma + diag(curvature)) s = -grad by conjugate gradients preconditioned by the
    diagonal, to a residual of min(0.1, |grad|) |grad| (Eisenstat-Walker forcing: quadratic
    convergence of the outer Newton iteration). The matrix is positive definite when Sigma is
    positive semi-definite (curvature > 0), so every iterate is a descent direction; at most n
    steps (exact in exact arithmetic). Raises InputError (covariance_not_psd) on a direction
    of non-positive curvature."""
    norm = float(np.sqrt(grad @ grad))
    if norm == 0.0:
        return np.zeros_like(grad)
    tol = min(0.1, norm) * norm
    inverse_diagonal = 1.0 / (np.diagonal(sigma) + curvature)
    step = np.zeros_like(grad)
    residual = -grad
    z = inverse_diagonal * residual
    direction = z
    rz = float(residual @ z)
    for _ in range(grad.size):
        h_direction = sigma @ direction + curvature * direction
        direction_curvature = float(direction @ h_direction)
        if not direction_curvature > 0.0:
            raise _not_psd()
        alpha = rz / direction_curvature
        step += alpha * direction
        residual -= alpha * h_direction
        if float(np.sqrt(residual @ residual)) <= tol:
            break
        z = inverse_diagonal * residual
        rz, rz_old = float(residual @ z), rz
        direction = z + (rz / rz_old) * direction
    return step


def inverse_volatility(
    cov: pd.DataFrame | np.ndarray,
    *,
    expected_returns: pd.Series | np.ndarray | None = None,
    risk_free_rate: float = 0.0,
    assets: Sequence[str] | None = None,
) -> OptimalPortfolio:
    """Weights proportional to 1 / volatility (a closed form: kkt_residual is 0)."""
    problem = _prepare(expected_returns, cov, None, assets)
    vol = np.sqrt(np.diagonal(problem.cov))
    if np.any(vol <= 0):
        raise InputError(
            "inverse volatility needs every asset to have positive variance",
            code="covariance_singular",
            constraint="covariance",
        )
    w = (1 / vol) / np.sum(1 / vol)
    return _result(problem, w, "inverse_volatility", 0.0, 0, risk_free_rate)
