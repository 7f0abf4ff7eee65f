"""When scheduled contributions fall due (pure: dates in, dates out).

A schedule names calendar dates: every 7 or 14 days from its start, or day N of every month or
every third month from its start month. Money moves on trading sessions, so each scheduled date
is deposited on its session: the date itself when the exchange trades that day, otherwise the
next session (a contribution due on Saturday the 15th arrives on Monday the 17th).
"""

import datetime as dt
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta

from portfolios import market_calendar

STEP_DAYS = {"weekly": 7, "biweekly": 14}
STEP_MONTHS = {"monthly": 1, "quarterly": 3}
#: A schedule resumed after a long pause catches up at most this many deposits at once.
MAX_CATCH_UP = 12


@dataclass(frozen=True)
class Due:
    """One contribution: the date the schedule names and the session it is deposited on."""

    scheduled: dt.date
    session: dt.date


def scheduled_dates(
    frequency: str, day_of_month: int, start_on: dt.date, until: dt.date
) -> list[dt.date]:
    """Every date the schedule names from `start_on` to `until` (both included).

    Monthly and quarterly dates are day `day_of_month` (1-28, so every month has it) of each
    month from `start_on`'s month, skipping one before `start_on`."""
    dates: list[dt.date] = []
    if frequency in STEP_DAYS:
        step = dt.timedelta(days=STEP_DAYS[frequency])
        day = start_on
        while day <= until:
            dates.append(day)
            day += step
        return dates
    if frequency not in STEP_MONTHS:
        raise ValueError(f"unknown contribution frequency {frequency!r}")
    first = start_on.replace(day=1) + relativedelta(day=day_of_month)
    n = 0
    while (day := first + relativedelta(months=n * STEP_MONTHS[frequency])) <= until:
        if day >= start_on:
            dates.append(day)
        n += 1
    return dates


def due(
    frequency: str,
    day_of_month: int,
    start_on: dt.date,
    *,
    after: dt.date | None,
    today: dt.date,
) -> list[Due]:
    """Contributions to deposit on or before `today`: scheduled after `after` (the last date
    already deposited; None = none yet) whose session has come. At most MAX_CATCH_UP, the
    most recent ones."""
    start = start_on if after is None else max(start_on, after + dt.timedelta(days=1))
    if start > today:
        return []
    result = [
        Due(day, session)
        for day in scheduled_dates(frequency, day_of_month, start_on, today)
        if day >= start and (session := _session_of(day)) <= today
    ]
    return result[-MAX_CATCH_UP:]


def next_due(
    frequency: str, day_of_month: int, start_on: dt.date, *, after: dt.date | None, today: dt.date
) -> Due:
    """The first contribution not deposited yet (after `after`), due now or to come."""
    horizon = max(today, start_on, after or start_on) + relativedelta(months=4)
    day = next(
        day
        for day in scheduled_dates(frequency, day_of_month, start_on, horizon)
        if after is None or day > after
    )
    return Due(day, _session_of(day))


def _session_of(day: dt.date) -> dt.date:
    return day if market_calendar.is_session(day) else market_calendar.next_session(day)
