"""The NYSE trading calendar behind every "trading days old" rule."""

import datetime as dt

import exchange_calendars
import numpy as np
import pytest

from portfolios import market_calendar

D = dt.date


@pytest.mark.parametrize(
    ("start", "end", "sessions"),
    [
        (D(2026, 11, 25), D(2026, 11, 27), 1),  # Wednesday before Thanksgiving, seen on Friday
        (D(2026, 11, 20), D(2026, 11, 23), 1),  # Friday seen on Monday
        (D(2026, 11, 21), D(2026, 11, 23), 0),  # a Saturday "close" seen on Monday
        (D(2027, 5, 28), D(2027, 6, 1), 1),  # Friday before Memorial Day, seen on Tuesday
        (D(2028, 2, 28), D(2028, 3, 1), 2),  # across a leap day (a Tuesday, a session)
        (D(2026, 4, 2), D(2026, 4, 6), 1),  # Good Friday 2026-04-03
        (D(2027, 6, 17), D(2027, 6, 21), 1),  # Juneteenth 2027 falls on a Saturday: Friday 18 off
        (D(2025, 1, 8), D(2025, 1, 10), 1),  # national day of mourning (President Carter)
        (D(2012, 10, 26), D(2012, 10, 31), 1),  # Hurricane Sandy closed 29 and 30 October
        (D(2026, 11, 27), D(2026, 11, 25), 0),  # end before start
    ],
)
def test_sessions_between_counts_trading_days(start, end, sessions) -> None:
    assert market_calendar.sessions_between(start, end) == sessions


def test_sessions_between_is_vectorised() -> None:
    starts = np.array(["2026-11-20", "2026-11-25", "2026-11-30"], dtype="datetime64[D]")
    # Fri 20: Fri, Mon 23, Tue, Wed, Fri 27 (not Thanksgiving) = 5; Wed 25: Wed, Fri = 2.
    assert market_calendar.sessions_between(starts, D(2026, 11, 30)).tolist() == [5, 2, 0]


def test_previous_latest_and_next_session_skip_weekends_and_holidays() -> None:
    assert market_calendar.previous_session(D(2026, 11, 29)) == D(2026, 11, 27)  # Sunday
    assert market_calendar.previous_session(D(2026, 11, 27)) == D(
        2026, 11, 25
    )  # after Thanksgiving
    assert market_calendar.latest_session(D(2026, 11, 26)) == D(2026, 11, 25)
    assert market_calendar.latest_session(D(2026, 11, 27)) == D(2026, 11, 27)
    assert market_calendar.next_session(D(2026, 12, 24)) == D(2026, 12, 28)  # Christmas Friday
    assert not market_calendar.is_session(D(2026, 11, 26))
    assert market_calendar.is_session(D(2028, 2, 29))


@pytest.mark.filterwarnings("ignore:Series.values returning an ndarray")
def test_sessions_agree_with_exchange_calendars_over_four_decades() -> None:
    xnys = exchange_calendars.get_calendar("XNYS", start="1990-01-02", end="2030-12-31")
    expected = xnys.sessions.to_numpy().astype("datetime64[D]")
    got = market_calendar.sessions(D(1990, 1, 2), D(2030, 12, 31))
    np.testing.assert_array_equal(got, expected)


def test_dates_outside_the_calendar_raise() -> None:
    with pytest.raises(ValueError, match="outside the trading calendar"):
        market_calendar.sessions_between(D(1960, 1, 4), D(2026, 1, 5))


NY = market_calendar.TIME_ZONE


def at(moment: str) -> dt.datetime:
    return dt.datetime.fromisoformat(moment).replace(tzinfo=NY)


def test_session_hours_know_the_early_closes() -> None:
    assert market_calendar.session_hours(D(2026, 11, 25)) == (
        at("2026-11-25T09:30"),
        at("2026-11-25T16:00"),
    )
    assert market_calendar.session_hours(D(2026, 11, 27))[1] == at("2026-11-27T13:00")
    assert market_calendar.session_hours(D(2026, 12, 24))[1] == at("2026-12-24T13:00")
    with pytest.raises(ValueError, match="not a trading session"):
        market_calendar.session_hours(D(2026, 11, 26))


@pytest.mark.parametrize(
    ("moment", "open_", "closed_session", "next_open"),
    [
        ("2026-11-25T09:29", False, D(2026, 11, 24), "2026-11-25T09:30"),
        ("2026-11-25T09:30", True, D(2026, 11, 24), "2026-11-25T09:30"),
        ("2026-11-25T15:59", True, D(2026, 11, 24), "2026-11-25T15:59"),
        ("2026-11-25T16:00", False, D(2026, 11, 25), "2026-11-27T09:30"),  # Thanksgiving next
        ("2026-11-27T13:30", False, D(2026, 11, 27), "2026-11-30T09:30"),  # after the early close
        ("2026-11-28T12:00", False, D(2026, 11, 27), "2026-11-30T09:30"),  # Saturday
        ("2028-02-29T23:30", False, D(2028, 2, 29), "2028-03-01T09:30"),
    ],
)
def test_market_hours(moment, open_, closed_session, next_open) -> None:
    instant = at(moment).astimezone(dt.UTC)  # any time zone in, New York rules applied
    assert market_calendar.is_open(instant) is open_
    assert market_calendar.last_closed_session(instant) == closed_session
    assert market_calendar.next_open(instant) == at(next_open)
