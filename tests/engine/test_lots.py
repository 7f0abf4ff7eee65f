import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebalancing.engine.lots import (
    ReliefMethod,
    allocate,
    anniversary,
    is_long_term,
    relief_order,
)

D = lambda s: np.datetime64(s, "D")  # noqa: E731


@pytest.mark.parametrize(
    ("start", "sold", "expected"),
    [
        ("2024-03-15", "2025-03-15", False),  # exactly one year: still short term
        ("2024-03-15", "2025-03-16", True),  # the day after the anniversary: long term
        ("2024-02-29", "2025-02-28", False),  # leap day: anniversary is 28 Feb
        ("2024-02-29", "2025-03-01", True),
        ("2023-12-31", "2024-12-31", False),
    ],
)
def test_holding_period_boundary(start: str, sold: str, expected: bool) -> None:
    assert bool(is_long_term(np.array([D(start)]), D(sold))[0]) is expected


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 3650), st.lists(st.integers(-800, 0), min_size=1, max_size=30))
def test_threshold_form_agrees_with_each_lots_own_anniversary(on_offset, starts):
    """`is_long_term` compares against one threshold; it must agree with comparing `on` to
    every lot's own anniversary, leap days and month ends included."""
    on = D("2016-01-01") + np.timedelta64(on_offset, "D")
    start = on + np.array(starts).astype("timedelta64[D]")
    assert (is_long_term(start, on) == (on > anniversary(start))).all()


def test_anniversary_of_a_leap_day_is_the_28th():
    assert anniversary(np.array([D("2024-02-29"), D("2023-01-31")])).tolist() == [
        D("2025-02-28").astype(object),
        D("2024-01-31").astype(object),
    ]


def _lots() -> dict[str, np.ndarray]:
    # lot 0: old, cheap (LT gain 40/share); lot 1: recent, expensive (ST loss 20/share);
    # lot 2: old, near price (LT gain 5/share); lot 3: recent, cheap (ST gain 30/share)
    return {
        "cost_per_share": np.array([60.0, 120.0, 95.0, 70.0]),
        "acquired": np.array([D("2020-01-02"), D("2026-06-01"), D("2021-05-05"), D("2026-03-01")]),
        "holding_start": np.array(
            [D("2020-01-02"), D("2026-06-01"), D("2021-05-05"), D("2026-03-01")]
        ),
    }


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        (ReliefMethod.FIFO, [0, 2, 3, 1]),
        (ReliefMethod.HIFO, [1, 2, 3, 0]),
        # losses, then long-term gains with the highest basis first, short-term gains last
        (ReliefMethod.TAX_MIN, [1, 2, 0, 3]),
    ],
)
def test_relief_order(method: ReliefMethod, expected: list[int]) -> None:
    order = relief_order(method, price=100.0, on=D("2026-11-20"), **_lots())
    assert order.tolist() == expected


def test_allocate_fills_lots_in_order_and_never_goes_short() -> None:
    take = allocate(12.0, np.array([2, 0, 1]), np.array([5.0, 5.0, 10.0]))
    assert take.tolist() == [2.0, 0.0, 10.0]
    with pytest.raises(ValueError, match="only 20 held"):
        allocate(21.0, np.array([0, 1, 2]), np.array([5.0, 5.0, 10.0]))
