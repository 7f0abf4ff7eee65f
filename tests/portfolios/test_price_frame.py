"""selectors.price_frame: the fast price-history loader gives exactly what price_history gives."""

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from portfolios import selectors
from portfolios.models import Price
from tests.factories import SecurityFactory

pytestmark = pytest.mark.django_db


def test_price_frame_matches_price_history_including_gaps_and_adjusted_closes() -> None:
    a, b, c = (
        SecurityFactory(ticker="AAA"),
        SecurityFactory(ticker="BBB"),
        SecurityFactory(ticker="CCC"),
    )
    rows = [
        (a, "2026-11-02", "10.5", None), (a, "2026-11-03", "10.75", "10.70"), (a, "2026-11-05", "11", None),
        (b, "2026-11-03", "200.123456", None), (b, "2026-11-04", "201", "199.5"),
        (c, "2026-10-01", "5", None),  # outside the window below
    ]  # fmt: skip
    for security, day, close, adjusted in rows:
        Price.objects.create(security=security, date=dt.date.fromisoformat(day), close=Decimal(close),
                             adjusted_close=Decimal(adjusted) if adjusted else None)  # fmt: skip
    ids = [c.pk, b.pk, a.pk]
    window = {"start": dt.date(2026, 11, 1), "end": dt.date(2026, 11, 30)}
    for adjusted in (False, True):
        for columns in ("ticker", "id"):
            fast = selectors.price_frame(ids, adjusted=adjusted, columns=columns, **window)
            slow = selectors.price_history(ids, adjusted=adjusted, columns=columns, **window)
            assert fast.equals(slow), (adjusted, columns)
    frame = selectors.price_frame(ids, adjusted=True, **window)
    assert list(frame.columns) == ["AAA", "BBB"]
    assert frame.loc["2026-11-03", "AAA"] == 10.70 and frame.loc["2026-11-04", "BBB"] == 199.5
    assert np.isnan(frame.loc["2026-11-04", "AAA"]) and np.isnan(frame.loc["2026-11-02", "BBB"])
    assert selectors.price_frame([]).empty
