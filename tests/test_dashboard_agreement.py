"""The dashboard shows bands and breaches computed by the engine's functions, so a class the
page shows outside its band is exactly one the drift check acts on (and the reverse)."""

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
import time_machine

from advisor import dashboard
from portfolios.models import AssetClass, Price, Security, TaxLot
from rebalancing.engine import drift, policy
from rebalancing.models import RebalancePolicy
from rebalancing.selectors import drift as drift_selectors
from tests.rebalancing.drift_world import TODAY, make_portfolios, make_world

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("volatility_adjusted", [False, True])
def test_dashboard_bands_and_breaches_are_the_drift_checks(volatility_adjusted: bool) -> None:
    with time_machine.travel(dt.datetime(2026, 11, 25, 18, tzinfo=dt.UTC), tick=False):
        world = make_world()
        # 60/40 model held 62/38 in value, plus a gold fund the target does not hold (target 0):
        # the 5/25 rule gives it a band of 0 (any holding is outside), not the absolute 5 points.
        (portfolio,) = make_portfolios(world, 1, equity_shares=62, bond_shares=74)
        gold_class = AssetClass.objects.create(code="gold", name="Gold")
        gold = Security.objects.create(ticker="GLD", name="Gold", asset_class=gold_class)
        Price.objects.create(security=gold, date=TODAY, close=Decimal("100"))
        TaxLot.objects.create(
            portfolio=portfolio, security=gold, quantity=Decimal("1"),
            original_quantity=Decimal("1"), cost_basis=Decimal("90"),
            acquired_on=dt.date(2022, 3, 1), holding_start=dt.date(2022, 3, 1),
        )  # fmt: skip
        if volatility_adjusted:
            RebalancePolicy.objects.create(portfolio=portfolio, volatility_adjusted=True)

        data = dashboard.household(portfolio.owner, today=TODAY)
        batch = drift_selectors.load_drift_batch([portfolio.pk], today=TODAY)
        state = drift.compute(batch.book)
        decision = policy.evaluate(
            batch.book, state, batch.policies, today=TODAY, vol_scale=batch.vol_scale
        )

    (block,) = data["accounts"]
    shown = {row.code: row for row in block.rows if row.code != dashboard.CASH}
    assert set(shown) == set(batch.book.classes)
    for k, code in enumerate(batch.book.classes):
        row = shown[code]
        width = decision.band[0, k]
        assert row.band == (pytest.approx(width) if np.isfinite(width) else None)
        assert row.outside == bool(decision.outside[0, k]), code
    assert shown["gold"].band == 0 and shown["gold"].outside
    assert block.breaches == int(decision.outside[0].sum()) > 0 and decision.threshold[0]
