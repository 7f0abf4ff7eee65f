"""The tax saved ledger: one row per executed harvest, written with the execution, shown on
the performance page, the dashboard and the tax report.

The harvest sells the 30 VTI bought at 110 (basis 3,300) while VTI closes at 100: the paper
broker fills at 100 x (1 - 5 bp) = 99.95, proceeds 2,998.50, a short-term loss of 301.50.
At the investor's 24% short-term rate that is 72.36 of tax; the fill cost 30 x 0.05 = 1.50
against the proposed price, so the ledger records 72.36 - 1.50 = 70.86.
"""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import InvestorProfile
from portfolios.models import TaxLot
from rebalancing.models import Proposal, TaxSaving
from rebalancing.selectors import holdings
from rebalancing.services import approval, drafts, execution, proposals
from tests.rebalancing.proposal_data import drifted_household, last_weekday

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _paper_broker(settings):
    settings.ADVISOR_BROKER_POLL_INTERVAL = 0.01
    settings.ADVISOR_PAPER_SLIPPAGE_BPS = 5.0
    settings.ADVISOR_PAPER_COMMISSION = 0.0
    settings.ADVISOR_PAPER_MAX_FILL = 0.0
    settings.ADVISOR_PAPER_DELAY_SECONDS = 0.0


def _harvest(user) -> Proposal:
    house = drifted_household(user)
    house.proposal.delete()  # only the harvest is on the table
    lot = TaxLot.objects.get(portfolio=house.portfolio, security=house.stocks, quantity=30)
    draft = drafts.ProposalDraft(
        portfolio_id=house.portfolio.pk,
        rule="harvest",
        reason="VTI is 9.1% under its cost: harvest the loss.",
        prices_as_of=last_weekday(),
        holdings_fingerprint=holdings.holdings_fingerprint([house.portfolio.pk])[
            house.portfolio.pk
        ],
        trades=[
            drafts.TradeDraft(
                security_id=house.stocks.pk,
                side="sell",
                quantity=Decimal("30"),
                price=Decimal("100"),
                lots=[{"lot": lot.pk, "quantity": "30"}],
                est_short_term_gain=Decimal("-300"),
                sequence=0,
            )
        ],
        est_short_term_gain=Decimal("-300"),
        est_tax=Decimal("-72"),
    )
    created = proposals.write_proposals([draft], kind="harvest").created[0]
    assert approval.approve_proposal(created.pk, by=user).ok
    return Proposal.objects.get(pk=created.pk)


def test_an_executed_harvest_writes_its_tax_value_once(user) -> None:
    InvestorProfile.objects.update_or_create(
        user=user, defaults={"short_term_tax_rate": Decimal("0.24")}
    )
    proposal = _harvest(user)
    assert execution.execute_proposal(proposal.pk) == Proposal.Status.EXECUTED
    saving = TaxSaving.objects.get(proposal=proposal)
    assert saving.household == user
    assert saving.short_term_loss == Decimal("301.50")
    assert saving.long_term_loss == Decimal("0.00")
    assert saving.short_term_rate == Decimal("0.2400")
    assert saving.costs == Decimal("1.50")
    assert saving.amount == Decimal("70.86")
    # a redelivered execution changes nothing
    assert execution.execute_proposal(proposal.pk) == Proposal.Status.EXECUTED
    assert TaxSaving.objects.filter(household=user).count() == 1


def test_a_rebalance_that_sold_every_lot_it_wanted_saves_no_tax_here(user) -> None:
    house = drifted_household(user)
    assert approval.approve_proposal(house.proposal.pk, by=user).ok
    assert execution.execute_proposal(house.proposal.pk) == Proposal.Status.EXECUTED
    assert not TaxSaving.objects.exists()


def test_a_rebalance_that_held_back_short_term_gains_records_the_rate_difference(user) -> None:
    house = drifted_household(user)
    # The engine's estimate, recorded by the drift check in the proposal (tests/engine).
    Proposal.objects.filter(pk=house.proposal.pk).update(
        details={"short_term_gain_held_back": 400.0}
    )
    assert approval.approve_proposal(house.proposal.pk, by=user).ok
    assert execution.execute_proposal(house.proposal.pk) == Proposal.Status.EXECUTED
    saving = TaxSaving.objects.get(proposal=house.proposal)
    # 400 x (24% - 15%), the default rates
    assert saving.short_term_gain_deferred == Decimal("400.00")
    assert saving.amount == Decimal("36.00")
    assert saving.short_term_loss == saving.long_term_loss == saving.costs == Decimal("0.00")


def test_the_pages_show_the_tax_saved(user, other_user, client) -> None:
    proposal = _harvest(user)
    execution.execute_proposal(proposal.pk)
    client.force_login(user)
    for url in (
        reverse("performance:household"),
        reverse("rebalancing:tax_report"),
        reverse("performance:account", args=[proposal.portfolio_id]),
    ):
        assert 'data-testid="tax-saved-total">$70.86<' in client.get(url).text, url
    assert "Tax saved: <strong>$71</strong>" in client.get(reverse("dashboard")).text
    client.force_login(other_user)
    assert 'data-testid="tax-saved-none"' in client.get(reverse("rebalancing:tax_report")).text


def test_staff_read_the_ledger_in_the_admin_and_cannot_edit_it(user, client) -> None:
    from tests.factories import UserFactory

    proposal = _harvest(user)
    execution.execute_proposal(proposal.pk)
    root = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    client.force_login(root)
    listing = client.get(reverse("admin:rebalancing_taxsaving_changelist"))
    assert listing.status_code == 200 and "70.86" in listing.text
    saving = TaxSaving.objects.get()
    page = client.get(reverse("admin:rebalancing_taxsaving_change", args=[saving.pk]))
    assert page.status_code == 200 and 'name="amount"' not in page.text
    assert client.get(reverse("admin:rebalancing_drawdownepisode_changelist")).status_code == 200
