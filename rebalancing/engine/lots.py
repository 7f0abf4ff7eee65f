"""Lot relief: which lots a sale takes shares from.

Inputs are arrays over the open lots of ONE security in one portfolio. Quantities in shares,
prices and bases in currency per share, dates as numpy datetime64[D].
"""

import datetime as dt
from enum import StrEnum

import numpy as np


class ReliefMethod(StrEnum):
    FIFO = "fifo"  # oldest lot first
    HIFO = "hifo"  # highest cost per share first
    SPECIFIC = "specific"  # the investor names the lots
    TAX_MIN = "tax_min"  # losses, then long-term gains (highest basis first), short-term gains last


# The methods a scan can apply to every lot at once, as integer codes for arrays (SPECIFIC needs
# the investor's picks and has none).
RELIEF_CODES = {ReliefMethod.TAX_MIN: 0, ReliefMethod.FIFO: 1, ReliefMethod.HIFO: 2}


def anniversary(holding_start: np.ndarray) -> np.ndarray:
    """The first anniversary of each date; that of 29 February is 28 February."""
    start = np.asarray(holding_start, dtype="datetime64[D]")
    month = start.astype("datetime64[M]")
    day_offset = start - month.astype("datetime64[D]")
    anniversary_month = month + np.timedelta64(12, "M")
    month_end = (anniversary_month + np.timedelta64(1, "M")).astype(
        "datetime64[D]"
    ) - np.timedelta64(1, "D")
    return np.minimum(anniversary_month.astype("datetime64[D]") + day_offset, month_end)


def is_long_term(holding_start: np.ndarray, on: np.datetime64 | dt.date | np.ndarray) -> np.ndarray:
    """True where a lot is held more than one year on `on` (sold after the anniversary).

    `on` is one date, or one date per lot (a backtest steps each variant on its own day).
    The anniversary grows with the start date, so one threshold decides every lot: the first
    start date whose anniversary is not before `on`, found among the dates around a year
    before it (month arithmetic on a few dates instead of on every lot).
    """
    if isinstance(on, np.ndarray) and on.ndim > 0:
        return anniversary(holding_start) < on.astype("datetime64[D]")
    day = np.asarray(on, dtype="datetime64[D]")
    around = day - np.arange(370, 359, -1).astype("timedelta64[D]")  # ascending dates
    threshold = around[np.argmax(anniversary(around) >= day)]
    return np.asarray(holding_start, dtype="datetime64[D]") < threshold


def is_long_term_on(holding_start: dt.date, on: dt.date) -> bool:
    """`is_long_term` for one lot: held more than one year on `on` (sold after the first
    anniversary of `holding_start`; that of 29 February is 28 February)."""
    return bool(is_long_term(np.array([holding_start], dtype="datetime64[D]"), on)[0])


def relief_order(
    method: ReliefMethod | str,
    *,
    cost_per_share: np.ndarray,
    acquired: np.ndarray,
    holding_start: np.ndarray,
    price: float,
    on: np.datetime64,
) -> np.ndarray:
    """Indices of the lots in the order a sale relieves them (not for SPECIFIC)."""
    method = ReliefMethod(method)
    cost = np.asarray(cost_per_share, dtype=float)
    acquired = np.asarray(acquired, dtype="datetime64[D]")
    index = np.arange(cost.size)
    if method is ReliefMethod.FIFO:
        return np.lexsort((index, acquired))
    if method is ReliefMethod.HIFO:
        return np.lexsort((index, acquired, -cost))
    if method is ReliefMethod.TAX_MIN:
        gain = price - cost
        long_term = is_long_term(holding_start, on)
        # 0: losses (largest loss per share first), 1: long-term gains, 2: short-term gains;
        # inside the gain groups the highest basis (smallest gain) goes first.
        group = np.where(gain < 0, 0, np.where(long_term, 1, 2))
        return np.lexsort((index, gain, group))
    raise ValueError("SPECIFIC relief takes the lots from the caller, not from an order.")


def allocate(quantity: float, order: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Shares to take from each lot, filling lots in `order` until `quantity` is reached.

    Raises ValueError when the lots hold less than `quantity` (a sale may never go short).
    """
    available = np.asarray(available, dtype=float)
    if quantity <= 0:
        raise ValueError("The quantity to sell must be positive.")
    if quantity > available.sum() * (1 + 1e-12):
        raise ValueError(f"Cannot sell {quantity:g} shares: only {available.sum():g} held.")
    ordered = available[order]
    before = np.concatenate(([0.0], np.cumsum(ordered)[:-1]))
    take_ordered = np.clip(quantity - before, 0.0, ordered)
    take = np.zeros_like(available)
    take[order] = take_ordered
    return take
