"""The US equity market's trading calendar (NYSE sessions), for every "trading day" rule.

Pure (numpy and the `exchange_calendars` package, no Django). Dates are exchange-local
calendar dates (America/New_York). A session is a weekday that is not an exchange holiday:
regular holidays (New Year's Day, MLK Day, Presidents' Day, Good Friday, Memorial Day,
Juneteenth, Independence Day, Labor Day, Thanksgiving, Christmas, with their observance rules)
and one-off closures (national days of mourning, Hurricane Sandy), as maintained by
`exchange_calendars`' XNYS calendar.

Everything goes through one `numpy.busdaycalendar` built once per process, so counting the
sessions between two dates, or between many pairs of dates at once, is a vectorised numpy call.
"""

from __future__ import annotations

import datetime as dt
import functools
import warnings
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

EXCHANGE = "XNYS"
#: The holiday list covers these years; a date outside them raises instead of guessing.
FIRST_YEAR = 1970
LAST_YEAR = 2200
TIME_ZONE = ZoneInfo("America/New_York")
OPEN = dt.time(9, 30)
CLOSE = dt.time(16, 0)


@dataclass(frozen=True)
class _Exchange:
    days: np.busdaycalendar
    early_closes: dict[dt.date, dt.time]


@functools.cache
def _exchange() -> _Exchange:
    import exchange_calendars  # imported on first use: it loads pandas holiday rules

    with warnings.catch_warnings():
        # exchange_calendars trips a pandas deprecation inside its own session maths.
        warnings.simplefilter("ignore")
        # The instance's own session range does not matter: only its holiday rules are read,
        # over a fixed span of years, so nothing here depends on the day the process starts.
        xnys = exchange_calendars.get_calendar(EXCHANGE, start="2020-01-01", end="2020-12-31")
    start, end = f"{FIRST_YEAR}-01-01", f"{LAST_YEAR}-12-31"
    regular = xnys.regular_holidays.holidays(start, end).to_numpy().astype("datetime64[D]")
    adhoc = np.array(
        [np.datetime64(day.date(), "D") for day in xnys.adhoc_holidays], dtype="datetime64[D]"
    )
    early: dict[dt.date, dt.time] = {}
    for close, rules in xnys.special_closes:
        early |= {day.date(): close for day in rules.holidays(start, end)}
    for close, days in xnys.special_closes_adhoc:
        early |= {day.date(): close for day in days}
    return _Exchange(
        days=np.busdaycalendar(weekmask="1111100", holidays=np.union1d(regular, adhoc)),
        early_closes=early,
    )


def _calendar() -> np.busdaycalendar:
    return _exchange().days


def _check(*days: np.datetime64 | np.ndarray) -> None:
    for day in days:
        years = np.asarray(day, dtype="datetime64[Y]").astype(int) + 1970
        if np.any((years < FIRST_YEAR) | (years > LAST_YEAR)):
            raise ValueError(f"date outside the trading calendar ({FIRST_YEAR}-{LAST_YEAR})")


def _d(day: dt.date | np.datetime64 | np.ndarray) -> np.datetime64 | np.ndarray:
    return (
        np.asarray(day, dtype="datetime64[D]")
        if isinstance(day, np.ndarray)
        else np.datetime64(day, "D")
    )


def is_session(day: dt.date) -> bool:
    """True when the exchange trades on `day`."""
    d = _d(day)
    _check(d)
    return bool(np.is_busday(d, busdaycal=_calendar()))


def sessions_between(
    start: dt.date | np.datetime64 | np.ndarray, end: dt.date | np.datetime64 | np.ndarray
) -> int | np.ndarray:
    """Sessions in [start, end): how many trading days old a close dated `start` is on `end`.

    A Friday close seen on Monday is 1 session old; the Wednesday before Thanksgiving seen on
    the Friday after is 1 (Thursday is a holiday). 0 when end <= start. Accepts arrays of dates
    (element-wise, broadcast) and then returns an integer array.
    """
    s, e = _d(start), _d(end)
    _check(s, e)
    count = np.busday_count(s, np.maximum(s, e), busdaycal=_calendar())
    return count if isinstance(count, np.ndarray) and count.ndim else int(count)


def sessions(start: dt.date, end: dt.date) -> np.ndarray:
    """Every session from start to end inclusive, as datetime64[D] (empty when end < start)."""
    s, e = _d(start), _d(end)
    _check(s, e)
    if e < s:
        return np.array([], dtype="datetime64[D]")
    days = np.arange(s, e + 1, dtype="datetime64[D]")
    return days[np.is_busday(days, busdaycal=_calendar())]


def previous_session(day: dt.date) -> dt.date:
    """The last session strictly before `day` (its close is the newest one known on `day`
    before the close)."""
    d = _d(day)
    _check(d)
    return np.busday_offset(d, -1, roll="forward", busdaycal=_calendar()).astype(dt.date)


def latest_session(day: dt.date) -> dt.date:
    """`day` itself when it is a session, otherwise the last session before it."""
    d = _d(day)
    _check(d)
    return np.busday_offset(d, 0, roll="backward", busdaycal=_calendar()).astype(dt.date)


def next_session(day: dt.date) -> dt.date:
    """The first session strictly after `day`."""
    d = _d(day)
    _check(d)
    return np.busday_offset(d, 1, roll="backward", busdaycal=_calendar()).astype(dt.date)


# --- market hours ---------------------------------------------------------------------------


def session_hours(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Opening and closing instants (aware, New York time) of the session on `day`; the close
    is 13:00 on early-close days (the day after Thanksgiving, Christmas Eve, ...).
    Raises ValueError when `day` is not a session."""
    if not is_session(day):
        raise ValueError(f"{day} is not a trading session")
    close = _exchange().early_closes.get(day, CLOSE)
    return (
        dt.datetime.combine(day, OPEN, tzinfo=TIME_ZONE),
        dt.datetime.combine(day, close, tzinfo=TIME_ZONE),
    )


def is_open(moment: dt.datetime) -> bool:
    """True while the exchange is trading at the aware instant `moment`."""
    day = moment.astimezone(TIME_ZONE).date()
    if not is_session(day):
        return False
    opens, closes = session_hours(day)
    return opens <= moment < closes


def last_closed_session(moment: dt.datetime) -> dt.date:
    """The newest session whose close is at or before `moment`: the newest daily close that
    exists at that instant (before 16:00 on a trading day it is the previous session's)."""
    day = moment.astimezone(TIME_ZONE).date()
    newest = latest_session(day)
    if newest == day and moment < session_hours(day)[1]:
        return previous_session(day)
    return newest


def next_open(moment: dt.datetime) -> dt.datetime:
    """When orders placed at `moment` can trade: `moment` itself while the market is open,
    otherwise the next session's opening bell."""
    if is_open(moment):
        return moment
    day = moment.astimezone(TIME_ZONE).date()
    if is_session(day) and moment < session_hours(day)[0]:
        return session_hours(day)[0]
    return session_hours(next_session(day))[0]
