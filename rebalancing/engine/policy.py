"""Which rebalancing rule fires for each portfolio, and why (vectorised over P portfolios).

Rules:
- threshold: some asset class's weight is outside its band. The band half-width per class is
  `absolute` (points, 0.05 == 5 points), `relative * target` (0.25 == 25% of the target weight),
  or the smaller of the two when both are set (Swedroe's "5/25" rule); no band when neither is.
  Volatility-adjusted bands multiply the width by the class's recent/long-run volatility ratio.
- calendar: a scheduled date (monthly, quarterly: Jan/Apr/Jul/Oct, semi-annual: Jan/Jul,
  annual: January; on `calendar_day`) has been reached since the last calendar proposal.
- cash_flow: cash above the buffer (cash_buffer x total value) is at least the minimum trade,
  or a withdrawal needs cash: deploy to the most underweight / raise from the most overweight.
Precedence of the reported rule: threshold, calendar, cash_flow (all that fired are in the reason).
"""

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rebalancing.engine.drift import Book, Drift

FREQUENCY_MONTHS = {
    "monthly": tuple(range(1, 13)),
    "quarterly": (1, 4, 7, 10),
    "semiannual": (1, 7),
    "annual": (1,),
}
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Policies:
    """Policy parameters per portfolio, arrays of length P.

    frequency: "none" | "monthly" | "quarterly" | "semiannual" | "annual"
    calendar_day: day of month 1..28
    absolute_band, relative_band: fractions, NaN when not set
    cash_flow, volatility_adjusted, full (False: only back to the band edge): bool
    min_trade: smallest trade, currency; cash_buffer: fraction of total value kept in cash
    allow_short_term_gains: bool; max_tax_cost: currency per rebalance, NaN = no limit
    last_calendar: datetime64[D] date of the last calendar proposal, NaT = never
    """

    frequency: np.ndarray
    calendar_day: np.ndarray
    absolute_band: np.ndarray
    relative_band: np.ndarray
    cash_flow: np.ndarray
    volatility_adjusted: np.ndarray
    full: np.ndarray
    min_trade: np.ndarray
    cash_buffer: np.ndarray
    allow_short_term_gains: np.ndarray
    max_tax_cost: np.ndarray
    last_calendar: np.ndarray

    @classmethod
    def uniform(cls, n: int, **values: object) -> "Policies":
        """n portfolios sharing one policy (the model defaults unless overridden)."""
        defaults: dict[str, object] = {
            "frequency": "none",
            "calendar_day": 1,
            "absolute_band": 0.05,
            "relative_band": 0.25,
            "cash_flow": True,
            "volatility_adjusted": False,
            "full": True,
            "min_trade": 50.0,
            "cash_buffer": 0.01,
            "allow_short_term_gains": False,
            "max_tax_cost": np.nan,
            "last_calendar": np.datetime64("NaT"),
        }
        unknown = set(values) - set(defaults)
        if unknown:
            raise TypeError(f"unknown policy fields {sorted(unknown)}")
        defaults.update(values)
        dtypes = {"frequency": object, "last_calendar": "datetime64[D]", "calendar_day": int}
        arrays = {
            name: np.full(
                n, value, dtype=dtypes.get(name, bool if isinstance(value, bool) else float)
            )
            for name, value in defaults.items()
        }
        return cls(**arrays)


@dataclass(frozen=True)
class Decision:
    """Per portfolio [P]: which rules fired, the reported rule ("" when none) and a reason;
    band [P, K] the band half-width used (inf = no band); outside [P, K] classes outside it;
    calendar_due [P] the scheduled date that fired (NaT otherwise)."""

    threshold: np.ndarray
    calendar: np.ndarray
    cash_flow: np.ndarray
    rule: np.ndarray
    reason: np.ndarray
    band: np.ndarray
    outside: np.ndarray
    calendar_due: np.ndarray

    @property
    def rebalance(self) -> np.ndarray:
        """Portfolios that trade towards target (threshold or calendar)."""
        return self.threshold | self.calendar

    @property
    def fired(self) -> np.ndarray:
        return self.threshold | self.calendar | self.cash_flow


def bands(
    target: np.ndarray, policies: Policies, vol_scale: np.ndarray | None = None
) -> np.ndarray:
    """Band half-width per class [P, K], fractions of invested value; inf where no band applies.

    absolute only: a; relative only: r x target; both: min(a, r x target). A class with target 0
    gets width 0 under a relative band (any holding is outside) and `a` under an absolute one.
    With `volatility_adjusted`, the width is multiplied by vol_scale[K] (recent / long-run
    volatility of the class, see `volatility_scale`).
    """
    a = policies.absolute_band[:, None]
    r = policies.relative_band[:, None]
    absolute = np.where(np.isnan(a), np.inf, a)
    relative = np.where(np.isnan(r), np.inf, r * target)
    width = np.minimum(absolute, relative)
    if vol_scale is not None:
        scale = np.where(
            policies.volatility_adjusted[:, None], np.asarray(vol_scale, dtype=float)[None, :], 1.0
        )
        width = width * scale
    return width


def volatility_scale(
    prices: pd.DataFrame,
    *,
    recent: int = 63,
    long_run: int = 756,
    floor: float = 0.5,
    cap: float = 2.0,
) -> pd.Series:
    """Recent / long-run volatility ratio per column of a daily close table (index date).

    Volatility is the standard deviation of daily simple returns over the last `recent`
    trading days and over the last `long_run` trading days (or all available). The ratio is
    clipped to [floor, cap]; columns with too little history get 1.0 (no adjustment).
    """
    returns = prices.sort_index().pct_change(fill_method=None)
    short = returns.tail(recent).std()
    long = returns.tail(long_run).std()
    enough = returns.tail(long_run).count() > recent
    ratio = (short / long).where(enough & (long > 0), 1.0)
    return ratio.clip(lower=floor, upper=cap).fillna(1.0)


def last_calendar_date(frequency: str, day: int, today: dt.date) -> dt.date | None:
    """The latest scheduled date on or before `today` for a frequency, or None for "none"."""
    months = FREQUENCY_MONTHS.get(frequency)
    if not months:
        return None
    year, month = today.year, today.month
    for _ in range(13):
        if month in months and dt.date(year, month, day) <= today:
            return dt.date(year, month, day)
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return None


def calendar_due(policies: Policies, today: dt.date) -> np.ndarray:
    """The scheduled date per portfolio that is due (reached and not yet proposed), NaT otherwise."""
    n = len(policies.frequency)
    due = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    # One date per distinct (frequency, day) pair: at most 4 x 28 combinations.
    keys = pd.MultiIndex.from_arrays([policies.frequency, policies.calendar_day])
    for frequency, day in keys.unique():
        date = last_calendar_date(str(frequency), int(day), today)
        if date is not None:
            due[(policies.frequency == frequency) & (policies.calendar_day == day)] = np.datetime64(
                date, "D"
            )
    last = policies.last_calendar.astype("datetime64[D]")
    reached = ~np.isnat(due) & (np.isnat(last) | (last < due))
    return np.where(reached, due, np.datetime64("NaT"))


def evaluate(
    book: Book,
    drift: Drift,
    policies: Policies,
    *,
    today: dt.date,
    vol_scale: np.ndarray | None = None,
    withdrawal: np.ndarray | None = None,
    labels: tuple[str, ...] | None = None,
) -> Decision:
    """Apply every portfolio's policy to its drift. `withdrawal` [P] is cash the investor asked
    to take out (currency, default 0). `labels` [K] name the classes in the reasons (default:
    the class codes). Portfolios without a target or without value never fire."""
    n = len(book.portfolio_ids)
    withdrawal = np.zeros(n) if withdrawal is None else np.asarray(withdrawal, dtype=float)
    has_target = book.target.sum(axis=1) > 0
    alive = has_target & (drift.total > 0)
    width = bands(book.target, policies, vol_scale)
    held_or_targeted = (drift.class_values > 0) | (book.target > 0)
    outside = (
        held_or_targeted & (np.abs(drift.drift) > width + TOLERANCE) & (drift.invested > 0)[:, None]
    )
    threshold = alive & outside.any(axis=1)
    # A portfolio holding nothing but cash is "drifted" by definition; deploy it as a cash flow.
    due = calendar_due(policies, today)
    calendar = alive & ~np.isnat(due) & (drift.invested > 0)
    excess = book.cash - policies.cash_buffer * drift.total - withdrawal
    cash_flow = (
        alive
        & policies.cash_flow
        & ((excess >= np.maximum(policies.min_trade, 0.01)) | (withdrawal > 0))
    )
    rule = np.where(
        threshold, "threshold", np.where(calendar, "calendar", np.where(cash_flow, "cash_flow", ""))
    )
    reason = np.full(n, "", dtype=object)
    for i in np.flatnonzero(
        threshold | calendar | cash_flow
    ).tolist():  # text only where a rule fired
        reason[i] = _reason(
            i,
            labels or book.classes,
            book,
            drift,
            policies,
            width,
            outside,
            threshold,
            calendar,
            cash_flow,
            due,
            excess,
            withdrawal,
        )
    return Decision(
        threshold=threshold,
        calendar=calendar,
        cash_flow=cash_flow,
        rule=rule.astype(object),
        reason=reason,
        band=width,
        outside=outside,
        calendar_due=np.where(calendar, due, np.datetime64("NaT")),
    )


def _reason(
    i: int,
    labels: tuple[str, ...],
    book: Book,
    drift: Drift,
    policies: Policies,
    width: np.ndarray,
    outside: np.ndarray,
    threshold: np.ndarray,
    calendar: np.ndarray,
    cash_flow: np.ndarray,
    due: np.ndarray,
    excess: np.ndarray,
    withdrawal: np.ndarray,
) -> str:
    parts: list[str] = []
    if threshold[i]:
        row = np.abs(drift.drift[i]) / np.where(width[i] > 0, width[i], 1e-12)
        row = np.where(outside[i], row, -1)
        k = int(np.argmax(row))
        others = int(outside[i].sum()) - 1
        parts.append(
            f"{labels[k]} is at {drift.weights[i, k]:.1%} against a target of {book.target[i, k]:.1%} "
            f"(drift {drift.drift[i, k] * 100:+.1f} points, band ±{width[i, k] * 100:.1f} points)"
            + (
                f"; {others} more class{'es' if others > 1 else ''} outside {'their' if others > 1 else 'its'} band"
                if others > 0
                else ""
            )
            + "."
        )
    if calendar[i]:
        parts.append(f"Scheduled {policies.frequency[i]} rebalance date {due[i]} reached.")
    if cash_flow[i]:
        if withdrawal[i] > 0:
            parts.append(f"A withdrawal of {withdrawal[i]:,.2f} needs cash.")
        if excess[i] > 0:
            parts.append(
                f"{excess[i]:,.2f} of cash above the {policies.cash_buffer[i]:.1%} buffer is waiting to be invested."
            )
    return " ".join(parts)
