"""The demo household has lots under water: after seeding, the harvest scan proposes harvests."""

import datetime as dt

import pytest
from django.core.management import call_command

from portfolios import selectors
from portfolios.models import Portfolio
from rebalancing import demo
from rebalancing.models import HarvestSkip, Proposal, ReplacementPair
from rebalancing.services import replacements

pytestmark = pytest.mark.django_db


def test_harvest_scan_after_seed_demo_creates_harvest_proposals(capsys) -> None:
    today = dt.date(2026, 11, 25)
    demo.seed_demo(today=today)
    replacements.seed_default_replacements()
    call_command("harvest_scan", "--date", str(today))
    taxable = Portfolio.objects.get(name="Taxable brokerage")
    proposal = Proposal.objects.get(kind=Proposal.Kind.HARVEST, status=Proposal.Status.PENDING)
    assert proposal.portfolio == taxable
    assert proposal.est_tax < 0  # tax saved

    # Every position 5%+ and 200+ under water is either harvested or skipped with a reason.
    positions = selectors.holdings([taxable.pk])
    loss = positions["cost_basis"] - positions["market_value"]
    under_water = set(
        positions.loc[(loss >= 200) & (loss >= 0.05 * positions["cost_basis"]), "ticker"]
    )
    assert under_water, "the demo data should have lots under water"
    sold = {
        t.security.ticker: t for t in proposal.trades.filter(side="sell").select_related("security")
    }
    skipped = set(
        HarvestSkip.objects.filter(portfolio=taxable).values_list("security__ticker", flat=True)
    )
    assert set(sold) | skipped == under_water and not set(sold) & skipped
    for buy in proposal.trades.filter(side="buy").select_related("security"):
        assert ReplacementPair.objects.filter(
            replacement=buy.security, security__ticker__in=sold
        ).exists()
    # Gold funds are substantially identical to each other: gold is never swapped, only skipped.
    assert "GLD" not in sold and "IAU" not in {t.security.ticker for t in proposal.trades.all()}
    assert "harvest proposals" in capsys.readouterr().out
