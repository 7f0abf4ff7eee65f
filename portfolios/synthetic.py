"""A deterministic synthetic market for the demo and the offline price provider.

Pure numpy, no Django. Closes fall on NYSE sessions only (portfolios/market_calendar.py). Daily log returns of the asset-class factors are drawn from a
multivariate normal with realistic annual volatilities and correlations, with a crash-like
stretch (late February to late March 2020: equities fall ~30%, bonds hold, gold wobbles) and
a recovery. Each ticker follows its class factor plus a small tracking noise, so two funds of
the same class (VTI / ITOT) move almost together, as harvesting replacements do.

The series starts on START and is drawn day by day from one seeded generator, so the prices
up to a date never change when the series is extended to a later date.
"""

import datetime as dt
from dataclasses import dataclass

import numpy as np

from portfolios import market_calendar

START = dt.date(2019, 1, 2)
SEED = 20_260_101
TRADING_DAYS = 252

#: class code -> (annual drift, annual volatility); fractions.
CLASSES: dict[str, tuple[float, float]] = {
    "us-stocks": (0.085, 0.16),
    "intl-developed": (0.06, 0.17),
    "emerging": (0.055, 0.21),
    "us-bonds": (0.025, 0.055),
    "intl-bonds": (0.022, 0.045),
    "tips": (0.025, 0.06),
    "reits": (0.06, 0.20),
    "gold": (0.06, 0.15),
    "cash": (0.035, 0.003),
}
CLASS_ORDER = list(CLASSES)
# Correlations of daily returns, in CLASS_ORDER.
CORRELATION = np.array(
    [
        # us    intl  em    usb   intlb tips  reit  gold  cash
        [1.00, 0.85, 0.75, -0.05, -0.02, 0.10, 0.75, 0.05, 0.0],
        [0.85, 1.00, 0.85, -0.02, 0.00, 0.12, 0.70, 0.15, 0.0],
        [0.75, 0.85, 1.00, 0.00, 0.02, 0.15, 0.65, 0.25, 0.0],
        [-0.05, -0.02, 0.00, 1.00, 0.80, 0.75, 0.20, 0.30, 0.0],
        [-0.02, 0.00, 0.02, 0.80, 1.00, 0.60, 0.15, 0.25, 0.0],
        [0.10, 0.12, 0.15, 0.75, 0.60, 1.00, 0.25, 0.40, 0.0],
        [0.75, 0.70, 0.65, 0.20, 0.15, 0.25, 1.00, 0.15, 0.0],
        [0.05, 0.15, 0.25, 0.30, 0.25, 0.40, 0.15, 1.00, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.00],
    ]
)
CRASH = (dt.date(2020, 2, 20), dt.date(2020, 3, 23))
RECOVERY = (dt.date(2020, 3, 24), dt.date(2020, 8, 31))
#: Extra daily drift during the crash / recovery per class (log return per day).
CRASH_DRIFT = np.array([-0.016, -0.015, -0.015, 0.0004, 0.0002, -0.0008, -0.02, -0.001, 0.0])
RECOVERY_DRIFT = np.array([0.0025, 0.0018, 0.002, 0.0001, 0.0, 0.0003, 0.002, 0.0006, 0.0])
CRASH_VOL_MULTIPLIER = 3.0
TRACKING_VOL = 0.01  # annual tracking noise of a fund around its class


@dataclass(frozen=True)
class Fund:
    ticker: str
    asset_class: str
    start_price: float


def trading_days(start: dt.date, end: dt.date) -> np.ndarray:
    """NYSE sessions from start to end inclusive, as datetime64[D] (no close on a holiday)."""
    return market_calendar.sessions(start, end)


def class_log_returns(n_days: int, dates: np.ndarray) -> np.ndarray:
    """(n_days, n_classes) daily log returns; row i is identical whatever n_days is."""
    rng = np.random.default_rng(SEED)
    z = rng.standard_normal((n_days, len(CLASS_ORDER)))
    drift = np.array([CLASSES[c][0] for c in CLASS_ORDER]) / TRADING_DAYS
    vol = np.array([CLASSES[c][1] for c in CLASS_ORDER]) / np.sqrt(TRADING_DAYS)
    chol = np.linalg.cholesky(CORRELATION)
    shocks = (z @ chol.T) * vol
    in_crash = (dates >= np.datetime64(CRASH[0])) & (dates <= np.datetime64(CRASH[1]))
    in_recovery = (dates >= np.datetime64(RECOVERY[0])) & (dates <= np.datetime64(RECOVERY[1]))
    shocks[in_crash] *= CRASH_VOL_MULTIPLIER
    returns = drift - 0.5 * vol**2 + shocks
    returns[in_crash] += CRASH_DRIFT
    returns[in_recovery] += RECOVERY_DRIFT
    return returns


def fund_prices(funds: list[Fund], end: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """(dates, closes) with closes shaped (n_days, n_funds), rounded to cents.

    Each fund's tracking noise comes from its own generator seeded by its ticker, so adding a
    fund never changes the others.
    """
    dates = trading_days(START, end)
    n = len(dates)
    factors = class_log_returns(n, dates)
    closes = np.empty((n, len(funds)))
    for j, fund in enumerate(funds):
        k = CLASS_ORDER.index(fund.asset_class)
        seed = SEED + sum(ord(ch) * 31**i for i, ch in enumerate(fund.ticker))
        noise = (
            np.random.default_rng(seed).standard_normal(n) * TRACKING_VOL / np.sqrt(TRADING_DAYS)
        )
        path = np.cumsum(factors[:, k] + noise)
        closes[:, j] = fund.start_price * np.exp(path - path[0])
    return dates, np.round(closes, 2)
