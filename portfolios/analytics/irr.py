"""Internal rates of return of dated cash flows (XIRR), for many groups of flows in one call.

Flows are flat arrays: `amounts` [N], `days` [N] (days since any fixed origin, e.g. the
`datetime64[D]` dates as integers) and `group` [N] (0 .. n_groups - 1; one group per account, or
per account and period). Sign convention (the investor's, as in spreadsheet XIRR): money paid
into the investment is negative, money taken out and the closing value are positive.

The rate r of a group solves NPV(r) = sum_k a_k (1 + r) ** (-(d_k - d_0) / days_per_year) = 0,
d_0 the group's first day. The solver works on the log growth over the group's span,
y = (span / days_per_year) * ln(1 + r), where each flow sits at tau_k = (d_k - d_0) / span in
[0, 1], so that short and long spans are equally well conditioned:

1. NPV(y) = sum a_k exp(-y tau_k) is evaluated on a fixed grid of y (growth over the span from
   -99.99...% to e**25) to find brackets where it changes sign; the bracket nearest y = 0 (no
   growth) is kept. With one sign change in the flows (contributions, then the closing value)
   NPV is monotonic and the root is unique.
2. Inside the bracket, Newton steps safeguarded by bisection (Numerical Recipes' rtsafe),
   vectorised over all groups, until the bracket or the step is below 1e-13.

Status per group: OK; MULTIPLE (more than one bracket on the grid: the rate nearest zero growth
is returned, others exist); NO_RATE (NPV never changes sign on the grid: all flows of one sign,
or a rate beyond the grid); TOO_SHORT (all flows on one day, or no flows: no rate is defined).
The rate is NaN unless the status is OK or MULTIPLE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OK, MULTIPLE, NO_RATE, TOO_SHORT = 0, 1, 2, 3
STATUS_NAMES = ("ok", "multiple rates", "no rate", "too short")

# Log growth over the span: exp(-25) is a 99.99999999% loss, exp(25) a 7e10-fold gain.
_NEGATIVE = [-25.0, -10.0, -5.0, -3.0, -2.0, -1.0, -0.5, -0.2, -0.05]
_GRID = np.array([*_NEGATIVE, 0.0, *(-g for g in reversed(_NEGATIVE))])
_TOLERANCE = 1e-13
_MAX_ITERATIONS = 100


@dataclass(frozen=True)
class LogGrowth:
    """Roots in log-growth form: `growth` [G] = ln(1 + cumulative return over the span)."""

    growth: np.ndarray
    status: np.ndarray


@dataclass(frozen=True)
class Irr:
    """`rate` [G]: annual rate (fraction, 0.05 == 5% a year); `cumulative` [G]: the growth over
    the group's span, (1 + rate) ** (span / days_per_year) - 1; `span_days` [G]; `status` [G]."""

    rate: np.ndarray
    cumulative: np.ndarray
    span_days: np.ndarray
    status: np.ndarray


def _npv(
    y: np.ndarray, amounts: np.ndarray, tau: np.ndarray, group: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """NPV(y) and dNPV/dy per group at log growth y [n]."""
    discounted = amounts * np.exp(-y[group] * tau)
    value = np.bincount(group, weights=discounted, minlength=n)
    slope = -np.bincount(group, weights=discounted * tau, minlength=n)
    return value, slope


def solve_log_growth(
    amounts: np.ndarray, tau: np.ndarray, group: np.ndarray, n_groups: int
) -> LogGrowth:
    """Solve sum_k a_k exp(-y tau_k) = 0 for y per group; `tau` [N] in [0, 1] is each flow's
    position in its group's span. See the module docstring for the method and the statuses."""
    amounts = np.asarray(amounts, dtype=float)
    tau = np.asarray(tau, dtype=float)
    group = np.asarray(group, dtype=np.int64)
    n = int(n_groups)
    growth = np.full(n, np.nan)
    status = np.full(n, NO_RATE, dtype=np.int8)
    if n == 0:
        return LogGrowth(growth, status)
    spread = np.zeros(n)
    np.maximum.at(spread, group, tau)
    status[spread <= 0] = TOO_SHORT

    # 1. Brackets on the grid: values [grid, n].
    values = np.stack(
        [np.bincount(group, weights=amounts * np.exp(-y * tau), minlength=n) for y in _GRID]
    )
    exact = values == 0
    change = np.sign(values[:-1]) * np.sign(values[1:]) < 0
    candidates = change | exact[:-1]
    n_brackets = candidates.sum(axis=0) + exact[-1]
    # The bracket nearest y = 0: distance of each interval's midpoint from 0.
    midpoints = np.abs((_GRID[:-1] + _GRID[1:]) / 2)
    distance = np.where(candidates, midpoints[:, None], np.inf)
    best = np.argmin(distance, axis=0)
    found = np.isfinite(distance[best, np.arange(n)]) & (status != TOO_SHORT)
    lo = _GRID[best].astype(float)
    hi = _GRID[best + 1].astype(float)
    flo = values[best, np.arange(n)]
    fhi = values[best + 1, np.arange(n)]
    # A grid point that is itself a root.
    at_lo = found & (flo == 0)
    at_hi = found & (fhi == 0) & ~at_lo
    growth[at_lo], growth[at_hi] = lo[at_lo], hi[at_hi]
    active = found & ~at_lo & ~at_hi

    # 2. Safeguarded Newton inside [lo, hi]; orient so that f(lo) < 0 < f(hi).
    swap = flo > 0
    lo, hi = np.where(swap, hi, lo), np.where(swap, lo, hi)
    y = (lo + hi) / 2
    step_before = np.abs(hi - lo)
    step = step_before.copy()
    for _ in range(_MAX_ITERATIONS):
        if not active.any():
            break
        f, df = _npv(y, amounts, tau, group, n)
        done = active & (f == 0)
        negative = f < 0
        lo = np.where(active & negative, y, lo)
        hi = np.where(active & ~negative, y, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = y - f / df
        low, high = np.minimum(lo, hi), np.maximum(lo, hi)
        use_newton = (
            np.isfinite(newton)
            & (newton > low)
            & (newton < high)
            & (np.abs(newton - y) < 0.5 * np.abs(step_before))
        )
        y_next = np.where(use_newton, newton, (lo + hi) / 2)
        step_before, step = step, np.abs(y_next - y)
        converged = (step <= _TOLERANCE * (1 + np.abs(y))) | (
            high - low <= _TOLERANCE * (1 + np.abs(y))
        )
        finished = active & (done | converged)
        growth[finished] = np.where(done, y, y_next)[finished]
        y = np.where(active, y_next, y)
        active &= ~finished
    growth[active] = y[active]  # out of iterations: the best estimate (never seen in tests)

    solved = np.isfinite(growth)
    status[solved] = np.where(n_brackets[solved] > 1, MULTIPLE, OK)
    return LogGrowth(growth, status)


def xirr(
    amounts: np.ndarray,
    days: np.ndarray,
    group: np.ndarray | None = None,
    n_groups: int | None = None,
    *,
    days_per_year: float = 365.25,
) -> Irr:
    """Annual internal rate of return of dated flows per group (see the module docstring).

    `days`: day numbers (int or datetime64[D]); `group`: defaults to one group. Spreadsheet
    XIRR uses days_per_year=365; the product uses 365.25 everywhere (as metrics' CAGR does).
    A rate too large to represent (a huge gain over a few days) is inf.
    """
    amounts = np.asarray(amounts, dtype=float)
    day = np.asarray(days)
    day = (day.astype("datetime64[D]").astype(np.int64) if day.dtype.kind == "M" else day).astype(
        float
    )
    group = (
        np.zeros(len(amounts), dtype=np.int64)
        if group is None
        else np.asarray(group, dtype=np.int64)
    )
    n = int(group.max() + 1 if n_groups is None and len(group) else n_groups or 0)
    first = np.full(n, np.inf)
    last = np.full(n, -np.inf)
    np.minimum.at(first, group, day)
    np.maximum.at(last, group, day)
    span = np.where(np.isfinite(first), last - first, 0.0)
    safe_span = np.where(span > 0, span, 1.0)
    tau = (day - first[group]) / safe_span[group]
    roots = solve_log_growth(amounts, tau, group, n)
    with np.errstate(over="ignore", invalid="ignore"):
        rate = np.expm1(roots.growth * days_per_year / safe_span)
        cumulative = np.expm1(roots.growth)
    return Irr(rate=rate, cumulative=cumulative, span_days=span, status=roots.status)
