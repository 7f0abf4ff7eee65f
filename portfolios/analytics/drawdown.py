"""Drawdown episodes that pass a loss tolerance: the pure half of "tell the investor once per
episode when the household has fallen further than they said they could bear".

Measured on the time-weighted wealth index W_t = prod_{s<=t} (1 + r_s) (from
performance.daily_returns, NaN counting as 0), starting from 1 before the first day, not on the
value: a withdrawal is not a loss. The drawdown is D_t = W_t / max(1, W_0 .. W_t) - 1 (<= 0).

An episode starts at a peak (a day at the running maximum, or the start) and lasts until the
index is back at that peak (recovery) or the series ends (ongoing). It breaches when D_t <=
-tolerance for the first time within it. One breach per episode: a new alert needs a new
peak first, so a series hovering around the threshold never alerts twice. The peak day is
stable for the whole episode, which makes (series, peak date) a natural once-only key for the
notification (a unique constraint in the service).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DrawdownEpisodes:
    """Breached episodes, arrays [E] sorted by series then time. Day numbers are rows of the
    input; `peak` is -1 when the episode starts before the first day (from the initial 1).

    series: column of the input; peak: last day at the peak level before the fall; breach:
    first day with drawdown <= -tolerance; trough: day of the episode's deepest drawdown (so
    far, when ongoing); depth: that drawdown (negative fraction); recovery: first day back at the peak, -1 if ongoing.
    """

    series: np.ndarray
    peak: np.ndarray
    breach: np.ndarray
    trough: np.ndarray
    depth: np.ndarray
    recovery: np.ndarray


def drawdowns(daily_returns: np.ndarray) -> np.ndarray:
    """Drawdown D_t [T] or [T, N] (fractions <= 0) of the wealth index of `daily_returns`."""
    r = np.nan_to_num(np.asarray(daily_returns, dtype=float), nan=0.0)
    wealth = np.cumprod(1.0 + r, axis=0)
    peak = np.maximum(np.maximum.accumulate(wealth, axis=0), 1.0)
    return wealth / peak - 1.0


def drawdown_episodes(daily_returns: np.ndarray, tolerance: np.ndarray | float) -> DrawdownEpisodes:
    """Episodes of each column of `daily_returns` ([T] or [T, N]) whose drawdown reaches
    -tolerance (a positive fraction, 0.2 == a 20% fall; one per column or one for all)."""
    r = np.asarray(daily_returns, dtype=float)
    r = r.reshape(len(r), -1)
    n_days, n_series = r.shape
    tol = np.broadcast_to(np.asarray(tolerance, dtype=float), (n_series,))
    depth = drawdowns(r).T.reshape(-1)  # series-major, time ascending
    series = np.repeat(np.arange(n_series), n_days)
    day = np.tile(np.arange(n_days), n_series)
    at_peak = depth >= 0
    # Episode number within each series: peaks seen so far (0 before the first one).
    episode = np.cumsum(at_peak.reshape(n_series, n_days), axis=1).reshape(-1)
    key = series * (n_days + 1) + episode
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    breached = depth <= -tol[series]
    if not breached.any():
        empty = np.array([], dtype=np.int64)
        return DrawdownEpisodes(empty, empty, empty, empty, np.array([]), empty)
    breach_rows = np.flatnonzero(breached)
    breach_keys, first = np.unique(key[breach_rows], return_index=True)
    breach_rows = breach_rows[first]
    segment = np.searchsorted(key[starts], breach_keys)
    seg_start = starts[segment]
    seg_stop = np.r_[starts[1:], len(key)][segment]
    # Trough: the deepest day of the segment (first one on ties).
    order = np.lexsort((day, depth, key))
    keys, first_row = np.unique(key[order], return_index=True)
    trough_rows = order[first_row][np.searchsorted(keys, breach_keys)]
    # The segment's first row is the peak day itself, unless the series fell from the start.
    peak = np.where(at_peak[seg_start], day[seg_start], day[seg_start] - 1)
    after = np.minimum(seg_stop, len(key) - 1)
    recovered = (seg_stop < len(key)) & (series[after] == series[seg_start])
    recovery = np.where(recovered, day[after], -1)
    return DrawdownEpisodes(
        series=series[seg_start],
        peak=peak,
        breach=day[breach_rows],
        trough=day[trough_rows],
        depth=depth[trough_rows],
        recovery=recovery,
    )
