"""Performance metrics of value (or return-index) series, vectorised over many series at once.

Input: `values` [T] or [T, N] (one column per series, e.g. per backtest variant or per
portfolio), positive money or index levels observed on the dates `dates` [T] (datetime64,
ascending). The series must be finite and start above 0; a column may fall to 0 (a total loss).
Output: one number per column ([N], or a float for a 1-D input). Fractions throughout
(0.05 == 5%); a drawdown is negative (-0.25 == a 25% fall from the peak).

Conventions (stated here once, used by every page and by the backtester):
- Period returns are simple returns r_t = V_t / V_{t-1} - 1 between consecutive observations.
- CAGR, two conventions that differ on the same series:
  * "calendar": (V_T / V_0) ** (365.25 / days) - 1, days = calendar days from the first to the
    last date (ffn's and bt's convention);
  * "trading": (V_T / V_0) ** (periods_per_year / n) - 1, n = number of returns (T - 1),
    periods_per_year = 252 for daily data.
  A business-day series has about 261 observations a year, not 252, so the two disagree:
  a series growing 5.17% a calendar year shows 4.99% under the 252-day convention.
- Volatility: sample standard deviation (ddof = 1) of period returns x sqrt(periods_per_year).
- Sharpe: mean(r - rf_p) / std(r - rf_p, ddof = 1) x sqrt(periods_per_year), with the annual
  risk-free rate turned into a per-period one as rf_p = (1 + rf) ** (1 / periods_per_year) - 1.
- Sortino: mean(r - rf_p) / DD x sqrt(periods_per_year), where DD is the target downside
  deviation sqrt(mean(min(r - rf_p, 0) ** 2)) over ALL periods (Sortino and van der Meer;
  periods above the target count as 0, and nothing is subtracted from the shortfalls). inf
  when no period falls short of the target.
- Maximum drawdown: min over t of V_t / max(V_0..V_t) - 1, with the peak date (the first day
  the series reached the level it fell from), the trough date and the recovery date (first
  date after the trough at which the value is back at the peak's level; NaT when never).
- Calmar: CAGR / |maximum drawdown| over the whole series (the caller picks the CAGR
  convention; inf when there is no drawdown).
- Tracking difference: CAGR(series) - CAGR(benchmark) under the same convention (positive:
  the series did better); tracking error: std(r - r_benchmark, ddof = 1) x sqrt(periods_per_year).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Convention = Literal["calendar", "trading"]
TRADING_DAYS = 252
DAYS_PER_YEAR = 365.25


def _as_2d(values: np.ndarray) -> tuple[np.ndarray, bool]:
    array = np.asarray(values, dtype=float)
    if array.ndim == 1:
        return array[:, None], True
    if array.ndim != 2:
        raise ValueError("values must be [T] or [T, N]")
    return array, False


def _out(result: np.ndarray, one: bool) -> np.ndarray | float:
    return float(result[0]) if one else result


def _check(values: np.ndarray) -> None:
    if values.shape[0] < 2:
        raise ValueError("a series needs at least two observations")
    if not np.isfinite(values).all():
        raise ValueError("values must be finite (no NaN or inf)")
    if (values[0] <= 0).any():
        raise ValueError("a series must start above 0")
    if (values < 0).any():
        raise ValueError("values must not be negative")


def period_returns(values: np.ndarray) -> np.ndarray:
    """Simple returns V_t / V_{t-1} - 1, shape [T - 1] or [T - 1, N]; a period that starts
    at 0 (after a total loss) has return 0."""
    array = np.asarray(values, dtype=float)
    before = array[:-1]
    return np.divide(array[1:] - before, before, out=np.zeros_like(before), where=before != 0)


def years(
    dates: np.ndarray | None,
    n_returns: int,
    convention: Convention = "calendar",
    periods_per_year: float = TRADING_DAYS,
) -> float:
    """Length of the series in years: calendar days / 365.25 ("calendar", needs `dates`) or
    n_returns / periods_per_year ("trading")."""
    if convention == "trading":
        return n_returns / periods_per_year
    if convention != "calendar":
        raise ValueError(f"unknown CAGR convention {convention!r}")
    if dates is None:
        raise ValueError("the calendar convention needs the dates")
    d = np.asarray(dates, dtype="datetime64[D]")
    days = int((d[-1] - d[0]).astype(int))
    if days <= 0:
        raise ValueError("the dates must span at least one day")
    return days / DAYS_PER_YEAR


def cagr(
    values: np.ndarray,
    dates: np.ndarray | None = None,
    *,
    convention: Convention = "calendar",
    periods_per_year: float = TRADING_DAYS,
) -> np.ndarray | float:
    """Compound annual growth rate per column (fraction), under the calendar-day convention
    (default; needs `dates`) or the trading-period one (see the module docstring)."""
    v, one = _as_2d(values)
    _check(v)
    span = years(dates, v.shape[0] - 1, convention, periods_per_year)
    return _out((v[-1] / v[0]) ** (1.0 / span) - 1.0, one)


def volatility(values: np.ndarray, *, periods_per_year: float = TRADING_DAYS) -> np.ndarray | float:
    """Annualised volatility per column: std(period returns, ddof=1) x sqrt(periods_per_year)."""
    v, one = _as_2d(values)
    _check(v)
    if v.shape[0] < 3:
        raise ValueError("volatility needs at least three observations (two returns)")
    return _out(period_returns(v).std(axis=0, ddof=1) * np.sqrt(periods_per_year), one)


def per_period_rate(annual_rate: float, periods_per_year: float = TRADING_DAYS) -> float:
    """An annual rate as a compounding per-period rate: (1 + rate) ** (1 / periods) - 1."""
    return (1.0 + annual_rate) ** (1.0 / periods_per_year) - 1.0


def sharpe(
    values: np.ndarray, *, risk_free: float = 0.0, periods_per_year: float = TRADING_DAYS
) -> np.ndarray | float:
    """Annualised Sharpe ratio per column; `risk_free` is an annual rate (fraction)."""
    v, one = _as_2d(values)
    _check(v)
    excess = period_returns(v) - per_period_rate(risk_free, periods_per_year)
    std = excess.std(axis=0, ddof=1)
    mean = excess.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(std > 0, mean / std, np.nan)
    return _out(ratio * np.sqrt(periods_per_year), one)


def downside_deviation(
    values: np.ndarray, *, target: float = 0.0, periods_per_year: float = TRADING_DAYS
) -> np.ndarray | float:
    """Annualised target downside deviation per column: sqrt(mean(min(r - t, 0)^2)) x
    sqrt(periods_per_year), over all periods, with `target` an annual rate turned per period."""
    v, one = _as_2d(values)
    _check(v)
    shortfall = np.minimum(period_returns(v) - per_period_rate(target, periods_per_year), 0.0)
    return _out(np.sqrt((shortfall**2).mean(axis=0) * periods_per_year), one)


def sortino(
    values: np.ndarray, *, risk_free: float = 0.0, periods_per_year: float = TRADING_DAYS
) -> np.ndarray | float:
    """Annualised Sortino ratio per column: mean excess return over the risk-free rate divided
    by the target downside deviation (target = the risk-free rate); inf without shortfalls."""
    v, one = _as_2d(values)
    _check(v)
    excess = period_returns(v) - per_period_rate(risk_free, periods_per_year)
    dd = np.sqrt((np.minimum(excess, 0.0) ** 2).mean(axis=0))
    mean = excess.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(dd > 0, mean / dd, np.where(mean > 0, np.inf, np.nan))
    return _out(ratio * np.sqrt(periods_per_year), one)


@dataclass(frozen=True)
class Drawdown:
    """Maximum drawdown per column [N]: depth (<= 0, fraction of the peak value), and the
    peak, trough and recovery dates (datetime64[D]; recovery NaT when the series never got
    back to the peak). With no drawdown at all, depth 0 and all three dates NaT."""

    depth: np.ndarray
    peak: np.ndarray
    trough: np.ndarray
    recovery: np.ndarray


def drawdown_series(values: np.ndarray) -> np.ndarray:
    """V_t / max(V_0..V_t) - 1 per column, same shape as `values` (<= 0)."""
    v = np.asarray(values, dtype=float)
    return v / np.maximum.accumulate(v, axis=0) - 1.0


def max_drawdown(values: np.ndarray, dates: np.ndarray) -> Drawdown:
    """Deepest fall from a running peak per column, with its dates (always arrays [N])."""
    v, _ = _as_2d(values)
    _check(v)
    d = np.asarray(dates, dtype="datetime64[D]")
    if len(d) != v.shape[0]:
        raise ValueError("dates and values differ in length")
    t, n = v.shape
    columns = np.arange(n)
    running = np.maximum.accumulate(v, axis=0)
    trough = (v / running).argmin(axis=0)
    peak_value = running[trough, columns]
    depth = v[trough, columns] / peak_value - 1.0
    # The peak: the first day the series reached the level it fell from.
    peak = (v >= peak_value[None, :]).argmax(axis=0)
    after = (v >= peak_value[None, :]) & (np.arange(t)[:, None] > trough[None, :])
    recovered = after.any(axis=0)
    recovery_index = after.argmax(axis=0)
    nat = np.datetime64("NaT", "D")
    fell = depth < 0
    return Drawdown(
        depth=depth,
        peak=np.where(fell, d[peak], nat),
        trough=np.where(fell, d[trough], nat),
        recovery=np.where(fell & recovered, d[recovery_index], nat),
    )


def calmar(
    values: np.ndarray,
    dates: np.ndarray,
    *,
    convention: Convention = "calendar",
    periods_per_year: float = TRADING_DAYS,
) -> np.ndarray | float:
    """CAGR / |maximum drawdown| per column (inf when the series never fell)."""
    v, one = _as_2d(values)
    growth = np.asarray(
        cagr(v, dates, convention=convention, periods_per_year=periods_per_year), dtype=float
    )
    depth = -max_drawdown(v, dates).depth
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(depth > 0, growth / depth, np.inf)
    return _out(ratio, one)


def tracking_difference(
    values: np.ndarray,
    benchmark: np.ndarray,
    dates: np.ndarray | None = None,
    *,
    convention: Convention = "calendar",
    periods_per_year: float = TRADING_DAYS,
) -> np.ndarray | float:
    """CAGR(values) - CAGR(benchmark) per column (fraction a year; positive: ahead of the
    benchmark). `benchmark` is [T] (one for every column) or [T, N] (one per column)."""
    v, one = _as_2d(values)
    b, _ = _as_2d(benchmark)
    if b.shape[0] != v.shape[0]:
        raise ValueError("the benchmark must be observed on the same dates")
    kwargs = {"convention": convention, "periods_per_year": periods_per_year}
    ours = np.asarray(cagr(v, dates, **kwargs), dtype=float)  # type: ignore[arg-type]
    theirs = np.asarray(cagr(b, dates, **kwargs), dtype=float)  # type: ignore[arg-type]
    return _out(ours - theirs, one)


def tracking_error(
    values: np.ndarray, benchmark: np.ndarray, *, periods_per_year: float = TRADING_DAYS
) -> np.ndarray | float:
    """Annualised standard deviation (ddof=1) of the period-return differences per column."""
    v, one = _as_2d(values)
    b, _ = _as_2d(benchmark)
    _check(v)
    _check(b)
    diff = period_returns(v) - period_returns(b)
    return _out(diff.std(axis=0, ddof=1) * np.sqrt(periods_per_year), one)


@dataclass(frozen=True)
class Summary:
    """Every metric per column [N] (see the module docstring for the conventions);
    `convention` names the CAGR convention used by cagr, calmar and tracking_difference
    (NaN when no benchmark was given)."""

    convention: str
    total_return: np.ndarray
    cagr: np.ndarray
    volatility: np.ndarray
    sharpe: np.ndarray
    sortino: np.ndarray
    drawdown: Drawdown
    calmar: np.ndarray
    tracking_difference: np.ndarray


def summarise(
    values: np.ndarray,
    dates: np.ndarray,
    *,
    benchmark: np.ndarray | None = None,
    risk_free: float = 0.0,
    convention: Convention = "calendar",
    periods_per_year: float = TRADING_DAYS,
) -> Summary:
    """All metrics of every column in one call (arrays [N] even for a 1-D input)."""
    v, _ = _as_2d(values)
    _check(v)
    if v.shape[0] < 3:
        raise ValueError("a summary needs at least three observations (two returns)")
    span = years(dates, v.shape[0] - 1, convention, periods_per_year)
    growth = (v[-1] / v[0]) ** (1.0 / span) - 1.0
    drawdown = max_drawdown(v, dates)
    with np.errstate(divide="ignore", invalid="ignore"):
        calmar_ratio = np.where(drawdown.depth < 0, growth / -drawdown.depth, np.inf)
    if benchmark is None:
        tracking = np.full(v.shape[1], np.nan)
    else:
        b, _ = _as_2d(benchmark)
        _check(b)
        tracking = growth - ((b[-1] / b[0]) ** (1.0 / span) - 1.0)
    # the per-period statistics from one pass over the returns
    returns = period_returns(v)
    excess = returns - per_period_rate(risk_free, periods_per_year)
    root = np.sqrt(periods_per_year)
    std = excess.std(axis=0, ddof=1)
    mean = excess.mean(axis=0)
    downside = np.sqrt((np.minimum(excess, 0.0) ** 2).mean(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe_ratio = np.where(std > 0, mean / std, np.nan) * root
        sortino_ratio = (
            np.where(downside > 0, mean / downside, np.where(mean > 0, np.inf, np.nan)) * root
        )
    return Summary(
        convention=convention,
        total_return=v[-1] / v[0] - 1.0,
        cagr=growth,
        volatility=returns.std(axis=0, ddof=1) * root,
        sharpe=sharpe_ratio,
        sortino=sortino_ratio,
        drawdown=drawdown,
        calmar=calmar_ratio,
        tracking_difference=tracking,
    )
