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
import functools
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
    volatility of the class, see `volatility_scale`), or vol_scale[P, K] (one row per portfolio,
    e.g. backtest variants on different days).
    """
    a = policies.absolute_band[:, None]
    r = policies.relative_band[:, None]
    absolute = np.where(np.isnan(a), np.inf, a)
    relative = np.where(np.isnan(r), np.inf, r * target)
    width = np.minimum(absolute, relative)
    if vol_scale is not None:
        ratio = np.asarray(vol_scale, dtype=float)
        scale = np.where(
            policies.volatility_adjusted[:, None], ratio if ratio.ndim >= 2 else ratio[None, :], 1.0
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


def volatility_scale_history(
    prices: pd.DataFrame,
    *,
    recent: int = 63,
    long_run: int = 756,
    floor: float = 0.5,
    cap: float = 2.0,
) -> pd.DataFrame:
    """`volatility_scale` as of every row of a daily close table at once (same index and
    columns): row t is what `volatility_scale(prices.loc[:t])` gives, computed with rolling
    windows (a backtest needs the ratio on every day)."""
    returns = prices.sort_index().pct_change(fill_method=None)
    short = returns.rolling(recent, min_periods=2).std()
    long = returns.rolling(long_run, min_periods=2).std()
    enough = returns.rolling(long_run, min_periods=0).count() > recent
    ratio = (short / long).where(enough & (long > 0), 1.0)
    return ratio.clip(lower=floor, upper=cap).fillna(1.0)


@functools.cache
def _month_tables(frequency: str) -> tuple[np.ndarray, np.ndarray]:
    """[13] whether month m is scheduled, and the months back from m to the latest scheduled
    month strictly before it (index 0 unused)."""
    scheduled = np.zeros(13, dtype=bool)
    scheduled[list(FREQUENCY_MONTHS[frequency])] = True
    back = [0] + [
        next(k for k in range(1, 13) if scheduled[(m - k - 1) % 12 + 1]) for m in range(1, 13)
    ]
    return scheduled, np.array(back)


def scheduled_dates(frequency: str, day: int, dates: np.ndarray) -> np.ndarray:
    """The latest scheduled date on or before each of `dates` [N] (datetime64[D]) for one
    (frequency, calendar_day); NaT for "none". Vectorised: a backtest asks for every trading day
    at once."""
    d = np.asarray(dates, dtype="datetime64[D]")
    months = FREQUENCY_MONTHS.get(frequency)
    if not months or d.size == 0:
        return np.full(d.shape, np.datetime64("NaT"), dtype="datetime64[D]")
    scheduled, back_before = _month_tables(frequency)
    month_start = d.astype("datetime64[M]")
    month = month_start.astype(np.int64) % 12 + 1
    day_of_month = (d - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    back = np.where(scheduled[month] & (day_of_month >= day), 0, back_before[month])
    out = (month_start - back.astype("timedelta64[M]")).astype("datetime64[D]") + np.timedelta64(
        day - 1, "D"
    )
    return np.where(np.isnat(d), np.datetime64("NaT"), out)


def last_calendar_date(frequency: str, day: int, today: dt.date) -> dt.date | None:
    """The latest scheduled date on or before `today` for a frequency, or None for "none"."""
    date = scheduled_dates(frequency, day, np.array([np.datetime64(today, "D")]))[0]
    return None if np.isnat(date) else date.astype(dt.date)


def calendar_due(
    policies: Policies, today: dt.date | np.ndarray, scheduled: np.ndarray | None = None
) -> np.ndarray:
    """The scheduled date per portfolio that is due (reached and not yet proposed), NaT otherwise.

    `today` is one date, or one datetime64[D] per portfolio [P] (a backtest steps each variant
    on its own day). `scheduled` [P]: the latest scheduled dates when the caller has them
    already (see `scheduled_dates`); otherwise they are computed here."""
    n = len(policies.frequency)
    if scheduled is None:
        days = np.broadcast_to(np.asarray(today, dtype="datetime64[D]"), (n,))
        scheduled = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
        # One computation per distinct (frequency, day) pair: at most 4 x 28 combinations.
        pairs = set(zip(policies.frequency.tolist(), policies.calendar_day.tolist(), strict=True))
        for frequency, day in pairs:
            rows = (policies.frequency == frequency) & (policies.calendar_day == day)
            scheduled[rows] = scheduled_dates(str(frequency), int(day), days[rows])
    due = np.asarray(scheduled, dtype="datetime64[D]")
    last = policies.last_calendar.astype("datetime64[D]")
    reached = ~np.isnat(due) & (np.isnat(last) | (last < due))
    return np.where(reached, due, np.datetime64("NaT"))


def outside_bands(
    class_values: np.ndarray,
    drift: np.ndarray,
    invested: np.ndarray,
    target: np.ndarray,
    width: np.ndarray,
) -> np.ndarray:
    """[P, K] classes outside their band: held or targeted, |drift| above the band half-width
    (plus a 1e-9 tolerance), in a portfolio with something invested. Arrays as in `Drift`;
    leading dimensions broadcast (a backtest passes [days, variants, K])."""
    held_or_targeted = (class_values > 0) | (target > 0)
    return held_or_targeted & (np.abs(drift) > width + TOLERANCE) & (invested > 0)[..., None]


def breach_levels(
    class_values: np.ndarray,
    drift: np.ndarray,
    invested: np.ndarray,
    target: np.ndarray,
    vol_scale: np.ndarray | None = None,
    relative: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The band rule turned around, to check one holding against many bands at once.

    `outside_bands(...).any(axis=-1)` with half-widths min(a, r x target) x scale is True
    exactly when a < level_a or r < level_r, up to rounding in the last digit, where over the
    held or targeted classes level_a = max (|drift| - tolerance) / scale and level_r = max
    (|drift| - tolerance) / (target x scale) (inf for a class held with target 0); both -inf
    when nothing is invested. Arrays as in `outside_bands` ([..., K] -> [...]); vol_scale
    broadcasts against them (1 without volatility adjustment). relative=False skips level_r
    (all -inf) when no relative band is asked about."""
    if np.all(target > 0):  # every class targeted: all are eligible
        eligible = np.broadcast_to((invested > 0)[..., None], drift.shape)
    else:
        eligible = ((class_values > 0) | (target > 0)) & (invested > 0)[..., None]
    excess = np.abs(drift) - TOLERANCE
    if vol_scale is not None:
        excess = excess / vol_scale
    excess = np.where(eligible, excess, -np.inf)
    if not relative:
        return excess.max(axis=-1), np.full(excess.shape[:-1], -np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        level_r = np.where(target > 0, excess / target, np.where(excess > 0, np.inf, -np.inf))
    return excess.max(axis=-1), level_r.max(axis=-1)


def excess_cash(
    cash: np.ndarray, total: np.ndarray, policies: Policies, withdrawal: np.ndarray
) -> np.ndarray:
    """Cash above the buffer after a withdrawal [P] (currency; negative: cash is needed)."""
    return cash - policies.cash_buffer * total - withdrawal


def cash_flow_fires(excess: np.ndarray, policies: Policies, withdrawal: np.ndarray) -> np.ndarray:
    """[P] the cash-flow rule: enabled, and the excess cash reaches the minimum trade (at least
    0.01) or a withdrawal needs cash."""
    return policies.cash_flow & (
        (excess >= np.maximum(policies.min_trade, 0.01)) | (withdrawal > 0)
    )


def evaluate(
    book: Book,
    drift: Drift,
    policies: Policies,
    *,
    today: dt.date | np.ndarray,
    vol_scale: np.ndarray | None = None,
    withdrawal: np.ndarray | None = None,
    labels: tuple[str, ...] | None = None,
    explain: bool = True,
    scheduled: np.ndarray | None = None,
) -> Decision:
    """Apply every portfolio's policy to its drift. `withdrawal` [P] is cash the investor asked
    to take out (currency, default 0). `labels` [K] name the classes in the reasons (default:
    the class codes). Portfolios without a target or without value never fire.

    `today` is one date or one datetime64[D] per portfolio; `scheduled` [P] the latest
    scheduled calendar dates when already known (see `calendar_due`). With explain=False the
    reasons are left empty (a backtest decides thousands of times and shows no text)."""
    n = len(book.portfolio_ids)
    withdrawal = np.zeros(n) if withdrawal is None else np.asarray(withdrawal, dtype=float)
    has_target = book.target.sum(axis=1) > 0
    alive = has_target & (drift.total > 0)
    width = bands(book.target, policies, vol_scale)
    outside = outside_bands(drift.class_values, drift.drift, drift.invested, book.target, width)
    threshold = alive & outside.any(axis=1)
    # A portfolio holding nothing but cash is "drifted" by definition; deploy it as a cash flow.
    due = calendar_due(policies, today, scheduled)
    calendar = alive & ~np.isnat(due) & (drift.invested > 0)
    excess = excess_cash(book.cash, drift.total, policies, withdrawal)
    cash_flow = alive & cash_flow_fires(excess, policies, withdrawal)
    rule = np.where(
        threshold, "threshold", np.where(calendar, "calendar", np.where(cash_flow, "cash_flow", ""))
    )
    reason = np.full(n, "", dtype=object)
    fired = np.flatnonzero(threshold | calendar | cash_flow).tolist() if explain else []
    for i in fired:  # text only where a rule fired
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
