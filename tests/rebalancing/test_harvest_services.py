"""The harvest scan service: proposals, the wash-sale guard, idempotency, the task and command,
and a property test that the product's own trades never wash a loss inside the household."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from accounts.models import AuditEvent, InvestorProfile
from advisor.core import dates
from portfolios import ledger
from portfolios.models import (
    IdenticalGroupMember,
    LotSale,
    Portfolio,
    Price,
    Security,
    SubstantiallyIdenticalGroup,
    TaxLot,
    WashSaleBlock,
    WashSaleMatch,
)
from rebalancing import tasks
from rebalancing.models import (
    HarvestSettings,
    HarvestSkip,
    Proposal,
    ProposedTrade,
    ReplacementPair,
    ScanBatch,
    ScanRun,
)
from rebalancing.selectors import harvest as selectors_harvest
from rebalancing.selectors import holdings
from rebalancing.services import (
    approval,
    drafts,
    harvest,
    investor_settings,
    proposals,
    replacements,
    tax_report,
)
from rebalancing.views import proposals as proposal_views
from tests.factories import AssetClassFactory, PortfolioFactory, SecurityFactory, UserFactory

pytestmark = pytest.mark.django_db

D = dt.date
ON = D(2026, 11, 24)


@pytest.fixture(autouse=True)
def _costs(settings) -> None:
    settings.ADVISOR_PAPER_SLIPPAGE_BPS = 5.0
    settings.ADVISOR_PAPER_COMMISSION = 0.0


def _price(security: Security, close: str, day: dt.date = ON) -> None:
    Price.objects.update_or_create(security=security, date=day, defaults={"close": Decimal(close)})


def _account(
    owner, name: str, treatment: str = Portfolio.TaxTreatment.TAXABLE, cash: str = "100000"
) -> Portfolio:
    p = PortfolioFactory(owner=owner, name=name, tax_treatment=treatment)
    ledger.record_cash(p, kind="deposit", amount=Decimal(cash), trade_date=D(2020, 1, 2))
    return p


def _buy(p: Portfolio, s: Security, qty: str, price: str, day: dt.date) -> TaxLot:
    txn = ledger.record_buy(
        p, security=s, quantity=Decimal(qty), price=Decimal(price), trade_date=day
    )
    return TaxLot.objects.get(opened_by=txn)


@pytest.fixture
def market():
    us = AssetClassFactory(code="us-stocks")
    sec = {t: SecurityFactory(ticker=t, asset_class=us) for t in ("VTI", "ITOT", "SCHB")}
    for a, b, prio in (
        ("VTI", "ITOT", 1),
        ("VTI", "SCHB", 2),
        ("ITOT", "VTI", 1),
        ("ITOT", "SCHB", 2),
    ):
        ReplacementPair.objects.create(security=sec[a], replacement=sec[b], priority=prio)
    _price(sec["VTI"], "200")
    _price(sec["ITOT"], "100")
    _price(sec["SCHB"], "25")
    return sec


@pytest.fixture
def household(user, market):
    """The hand-worked household: VTI at 200 in the taxable account.

    lot A 10 @ 250 since 2025-06-02: long-term loss 500 (20%)
    lot B 10 @ 230 since 2026-03-02: short-term loss 300 (13%)
    lot C 10 @ 150 since 2023-01-03: a gain, kept
    Tax value 300 x 24% + 500 x 15% = 147.00; costs 2 x 4,000 x 5 bps = 4.00.
    """
    InvestorProfile.objects.create(
        user=user, short_term_tax_rate=Decimal("0.24"), long_term_tax_rate=Decimal("0.15")
    )
    taxable = _account(user, "Brokerage")
    ira = _account(user, "IRA", Portfolio.TaxTreatment.TRADITIONAL_IRA)
    lots = {
        "A": _buy(taxable, market["VTI"], "10", "250", D(2025, 6, 2)),
        "B": _buy(taxable, market["VTI"], "10", "230", D(2026, 3, 2)),
        "C": _buy(taxable, market["VTI"], "10", "150", D(2023, 1, 3)),
    }
    return {"user": user, "taxable": taxable, "ira": ira, "lots": lots, **market}


def test_the_next_scan_uses_the_investors_harvest_and_tax_settings(household) -> None:
    user = household["user"]
    owner = {"by": user, "min_loss_fraction": Decimal("0.05"), "min_net_benefit": Decimal("25")}
    investor_settings.update_harvesting(
        user, enabled=False, min_loss_amount=Decimal("200"), **owner
    )
    assert harvest.scan_for_harvest(user_ids=[user.pk], on=ON).created == 0
    # Back on, but only for losses of 1,000 or more: the 800 here is left alone.
    investor_settings.update_harvesting(
        user, enabled=True, min_loss_amount=Decimal("1000"), **owner
    )
    assert harvest.scan_for_harvest(user_ids=[user.pk], on=ON).created == 0
    investor_settings.update_harvesting(user, enabled=True, min_loss_amount=Decimal("200"), **owner)
    investor_settings.update_tax_profile(
        user, by=user, filing_status="single", federal_short_term_rate=Decimal("0.24"),
        federal_long_term_rate=Decimal("0.15"), state_rate=Decimal("0.05"),
        carryover_short_term_loss=Decimal("0"), carryover_long_term_loss=Decimal("0"),
        carryover_tax_year=None,
    )  # fmt: skip
    assert harvest.scan_for_harvest(user_ids=[user.pk], on=ON).created == 1
    # 800 of losses deducted from ordinary income at 24% federal + 5% state.
    assert Proposal.objects.get(kind=Proposal.Kind.HARVEST).est_tax == Decimal("-232.00")


def test_the_proposal_page_shows_the_wash_sale_check_that_passed(household, client) -> None:
    harvest.scan_for_harvest(user_ids=[household["user"].pk], on=ON)
    proposal = Proposal.objects.get(kind=Proposal.Kind.HARVEST)
    client.force_login(household["user"])
    page = client.get(reverse("rebalancing:detail", args=[proposal.pk])).content.decode()
    assert "Wash-sale check: No purchase of VTI or a substantially identical security" in page
    assert "ITOT was not sold at a loss in the past 30 days" in page
    # the losses harvested, in place of an allocation chart (a swap keeps the allocation)
    assert (
        'data-testid="harvests"' in page and "<strong>VTI</strong> → <strong>ITOT</strong>" in page
    )
    assert 'id="alloc-chart"' not in page


def test_scan_proposes_selling_the_loss_lots_and_buying_the_replacement(household) -> None:
    result = harvest.scan_for_harvest(user_ids=[household["user"].pk], on=ON)
    assert result.created == 1
    proposal = Proposal.objects.get(kind=Proposal.Kind.HARVEST)
    assert proposal.portfolio == household["taxable"]
    assert proposal.status == Proposal.Status.PENDING
    # Netted for the year (Schedule D): with nothing else realised the 800 of losses is
    # deducted from ordinary income (under the 3,000 limit) at 24%: 192.00 saved.
    assert proposal.est_tax == Decimal("-192.00")
    assert proposal.est_cost == Decimal("4.00")
    assert proposal.est_short_term_gain == Decimal("-300.00")
    assert proposal.est_long_term_gain == Decimal("-500.00")
    assert proposal.prices_as_of == ON
    sell, buy = proposal.trades.order_by("sequence")
    assert (sell.side, sell.security, sell.quantity, sell.price) == (
        "sell",
        household["VTI"],
        Decimal("20"),
        Decimal("200"),
    )
    lots = household["lots"]
    assert sorted(sell.lots, key=lambda x: x["lot"]) == sorted(
        [
            {"lot": lots["A"].pk, "quantity": "10.00000000"},
            {"lot": lots["B"].pk, "quantity": "10.00000000"},
        ],
        key=lambda x: x["lot"],
    )
    assert (buy.side, buy.security, buy.quantity, buy.amount) == (
        "buy",
        household["ITOT"],
        Decimal("40"),
        Decimal("4000.00"),
    )
    assert proposal.details["loss_harvested"] == "800.00"
    assert proposal_views.wash_sale_check(proposal.details).startswith(
        f"No purchase of VTI or a substantially identical security in any of your accounts since "
        f"{dates.day(ON - dt.timedelta(days=30))}"  # the pages' one date format
    )
    assert "24% short term" in proposal.reason
    assert (
        AuditEvent.objects.filter(
            action="proposal.created.harvest", household=household["user"]
        ).count()
        == 1
    )


def test_a_second_scan_keeps_the_proposal_and_a_dry_run_writes_nothing(household) -> None:
    uid = household["user"].pk
    dry = harvest.scan_for_harvest(user_ids=[uid], on=ON, dry_run=True)
    assert len(dry.drafts) == 1 and not Proposal.objects.exists()
    first = harvest.scan_for_harvest(user_ids=[uid], on=ON)
    second = harvest.scan_for_harvest(user_ids=[uid], on=ON)
    assert (first.created, second.created, second.kept) == (1, 0, 1)
    assert Proposal.objects.count() == 1 and ProposedTrade.objects.count() == 2


def test_a_recent_purchase_in_the_ira_blocks_the_harvest_and_the_reason_is_recorded(
    household,
) -> None:
    _buy(household["ira"], household["VTI"], "1", "200", D(2026, 11, 10))
    harvest.scan_for_harvest(user_ids=[household["user"].pk], on=ON)
    assert not Proposal.objects.exists()
    skip = HarvestSkip.objects.get()
    assert (skip.portfolio, skip.security, skip.reason, skip.loss) == (
        household["taxable"],
        household["VTI"],
        HarvestSkip.Reason.RECENT_PURCHASE,
        Decimal("800.00"),
    )
    assert "past 30 days" in skip.message


def test_a_purchase_31_days_ago_does_not_block(household) -> None:
    _buy(household["ira"], household["VTI"], "1", "200", ON - dt.timedelta(days=31))
    assert harvest.scan_for_harvest(user_ids=[household["user"].pk], on=ON).created == 1


def test_a_substantially_identical_purchase_blocks(household) -> None:
    vtsax = SecurityFactory(ticker="VTSAX", asset_class=household["VTI"].asset_class)
    group = SubstantiallyIdenticalGroup.objects.create(name="Vanguard total market")
    IdenticalGroupMember.objects.create(group=group, security=household["VTI"])
    IdenticalGroupMember.objects.create(group=group, security=vtsax)
    _buy(household["ira"], vtsax, "5", "100", D(2026, 11, 2))
    harvest.scan_for_harvest(user_ids=[household["user"].pk], on=ON)
    assert HarvestSkip.objects.get().reason == HarvestSkip.Reason.RECENT_PURCHASE


def test_a_pending_buy_in_another_account_blocks(household) -> None:
    fp = holdings.holdings_fingerprint([household["ira"].pk])[household["ira"].pk]
    proposals.write_proposals(
        [
            drafts.ProposalDraft(
                portfolio_id=household["ira"].pk, rule="cash_flow", reason="Deploy cash.", prices_as_of=ON,
                holdings_fingerprint=fp,
                trades=[drafts.TradeDraft(security_id=household["VTI"].pk, side="buy", quantity=Decimal("5"), price=Decimal("200"))],
            )
        ],
        kind=Proposal.Kind.REBALANCE,
    )  # fmt: skip
    harvest.scan_for_harvest(user_ids=[household["user"].pk], on=ON)
    assert not Proposal.objects.filter(kind=Proposal.Kind.HARVEST).exists()
    assert HarvestSkip.objects.get().reason == HarvestSkip.Reason.SCHEDULED_PURCHASE


def test_a_replacement_sold_at_a_loss_recently_is_not_bought(household) -> None:
    other = _account(household["user"], "Joint")
    _buy(other, household["ITOT"], "10", "120", D(2026, 9, 1))
    ledger.record_sell(
        other,
        security=household["ITOT"],
        quantity=Decimal("10"),
        price=Decimal("100"),
        trade_date=D(2026, 11, 9),
    )
    assert WashSaleBlock.objects.filter(security=household["ITOT"]).exists()
    harvest.scan_for_harvest(user_ids=[household["user"].pk], on=ON)
    buy = ProposedTrade.objects.get(side="buy")
    assert buy.security == household["SCHB"]  # the second choice
    assert buy.quantity == Decimal("160")  # 4,000 / 25


def test_user_thresholds_and_opt_out(household) -> None:
    uid = household["user"].pk
    HarvestSettings.objects.create(user=household["user"], min_loss_amount=Decimal("801"))
    assert harvest.scan_for_harvest(user_ids=[uid], on=ON).created == 0
    HarvestSettings.objects.filter(user_id=uid).update(min_loss_amount=Decimal("800"))
    assert harvest.scan_for_harvest(user_ids=[uid], on=ON).created == 1
    HarvestSettings.objects.filter(user_id=uid).update(enabled=False)
    harvest.scan_for_harvest(user_ids=[uid], on=ON)
    # The pending proposal no longer reflects the investor's wishes: it is retired.
    assert not Proposal.objects.filter(status=Proposal.Status.PENDING).exists()


def test_ira_lots_are_never_harvested(user, market) -> None:
    ira = _account(user, "IRA", Portfolio.TaxTreatment.ROTH_IRA)
    _buy(ira, market["VTI"], "10", "300", D(2025, 1, 6))
    assert harvest.scan_for_harvest(user_ids=[user.pk], on=ON).candidates == 0


def _execute(proposal: Proposal, day: dt.date) -> None:
    """Execute a proposal's trades through the ledger the way the broker fills them."""
    for trade in proposal.trades.order_by("sequence", "id"):
        common = {
            "security": trade.security, "quantity": trade.quantity, "price": trade.price, "trade_date": day,
            "external_id": f"fill:{trade.idempotency_key}",
        }  # fmt: skip
        if trade.side == "sell":
            picks = [ledger.LotPick(int(p["lot"]), Decimal(p["quantity"])) for p in trade.lots]
            ledger.record_sell(proposal.portfolio, method="specific", picks=picks, **common)
        else:
            ledger.record_buy(proposal.portfolio, **common)
    Proposal.objects.filter(pk=proposal.pk).update(status=Proposal.Status.EXECUTED)


def test_executing_a_harvest_blocks_buying_it_back_and_reports_the_harvested_loss(
    household,
) -> None:
    uid = household["user"].pk
    harvest.scan_for_harvest(user_ids=[uid], on=ON)
    proposal = Proposal.objects.get()
    # While it waits, the rebalancer may not buy VTI anywhere in the household.
    assert (uid, household["VTI"].pk) in selectors_harvest.blocked_purchases([uid], ON)
    assert harvest.wash_sale_conflict(proposal, on=ON) is None
    _execute(proposal, ON)
    assert not WashSaleMatch.objects.exists()
    assert WashSaleBlock.objects.get().until == ON + dt.timedelta(days=30)
    assert selectors_harvest.blocked_purchases([uid], ON + dt.timedelta(days=30)) == {
        (uid, household["VTI"].pk)
    }
    assert selectors_harvest.blocked_purchases([uid], ON + dt.timedelta(days=31)) == set()
    report = tax_report.build(household["user"], 2026)
    assert report.harvested_losses == Decimal("800.00") and report.harvest_sales == 2
    assert report.short_term.gain == Decimal("-300.00") and report.long_term.gain == Decimal(
        "-500.00"
    )
    # The next scan sees the new ITOT lot (bought today): no harvest of ITOT for 30 days.
    assert harvest.scan_for_harvest(user_ids=[uid], on=ON).created == 0


def test_approval_recheck_catches_a_purchase_made_after_the_proposal(household) -> None:
    harvest.scan_for_harvest(user_ids=[household["user"].pk], on=ON)
    proposal = Proposal.objects.get()
    _buy(household["ira"], household["VTI"], "1", "200", ON)
    assert "past 30 days" in harvest.wash_sale_conflict(proposal, on=ON)


# --- dividend reinvestment counts as a scheduled purchase ------------------------------------


def _reinvest(p: Portfolio, on: bool = True) -> None:
    Portfolio.objects.filter(pk=p.pk).update(reinvest_dividends=on)


def test_dividends_reinvested_in_the_ira_block_the_harvest_and_the_reason_is_recorded(
    household,
) -> None:
    uid = household["user"].pk
    _buy(household["ira"], household["VTI"], "5", "180", D(2025, 1, 6))  # long ago: no wash
    assert harvest.scan_for_harvest(user_ids=[uid], on=ON).created == 1
    _reinvest(household["ira"])
    harvest.scan_for_harvest(user_ids=[uid], on=ON)
    # The waiting harvest no longer holds: it is retired, and the skip says why.
    assert not Proposal.objects.filter(status=Proposal.Status.PENDING).exists()
    skip = HarvestSkip.objects.get()
    assert (skip.portfolio, skip.security, skip.reason, skip.loss) == (
        household["taxable"],
        household["VTI"],
        HarvestSkip.Reason.DIVIDEND_REINVESTMENT,
        Decimal("800.00"),
    )
    assert skip.message == (
        "Not harvested: dividends of VTI (or a substantially identical fund) are reinvested "
        "automatically in your account 'IRA', and a reinvested dividend would make the loss a "
        "wash sale; turn reinvestment off for that account to harvest it."
    )
    _reinvest(household["ira"], False)
    assert harvest.scan_for_harvest(user_ids=[uid], on=ON).created == 1


def test_reinvesting_in_the_harvested_account_itself_blocks_through_a_batch(household) -> None:
    uid = household["user"].pk
    _reinvest(household["taxable"])
    result = harvest.scan_for_harvest(owner_range=(uid, uid), on=ON)  # the scheduled scan's path
    assert result.created == 0
    assert HarvestSkip.objects.get().reason == HarvestSkip.Reason.DIVIDEND_REINVESTMENT
    assert "account 'Brokerage'" in HarvestSkip.objects.get().message


def test_reinvesting_a_substantially_identical_fund_blocks(household) -> None:
    vtsax = SecurityFactory(ticker="VTSAX", asset_class=household["VTI"].asset_class)
    group = SubstantiallyIdenticalGroup.objects.create(name="Vanguard total market")
    IdenticalGroupMember.objects.create(group=group, security=household["VTI"])
    IdenticalGroupMember.objects.create(group=group, security=vtsax)
    _buy(household["ira"], vtsax, "5", "100", D(2024, 11, 4))
    _reinvest(household["ira"])
    harvest.scan_for_harvest(user_ids=[household["user"].pk], on=ON)
    assert HarvestSkip.objects.get().reason == HarvestSkip.Reason.DIVIDEND_REINVESTMENT


def test_reinvesting_other_securities_or_in_another_household_does_not_block(household) -> None:
    _buy(household["ira"], household["SCHB"], "10", "20", D(2024, 11, 4))
    _reinvest(household["ira"])
    stranger = _account(UserFactory(email="stranger@example.com"), "Theirs")
    _buy(stranger, household["VTI"], "1", "200", D(2024, 11, 4))
    _reinvest(stranger)
    assert harvest.scan_for_harvest(user_ids=[household["user"].pk], on=ON).created == 1


def test_scheduled_purchases_include_reinvested_dividends_in_a_few_queries(
    household, django_assert_num_queries
) -> None:
    uid, vti, schb = household["user"].pk, household["VTI"].pk, household["SCHB"].pk
    _buy(household["ira"], household["SCHB"], "10", "20", D(2024, 11, 4))
    _reinvest(household["ira"])
    accounts = selectors_harvest.household_accounts([uid])
    # open proposals (none here, so no trade query), reinvesting accounts, their lots
    with django_assert_num_queries(3):
        by_ids = selectors_harvest.scheduled_purchases([uid], accounts=accounts)
    with django_assert_num_queries(4):  # + the household's accounts
        assert selectors_harvest.scheduled_purchases([uid]) == by_ids
    assert by_ids == {(uid, schb): "IRA"}
    assert (uid, vti) not in by_ids
    _reinvest(household["taxable"])
    assert selectors_harvest.scheduled_purchases(range(uid + 1, uid + 6)) == {}
    assert selectors_harvest.scheduled_purchases([uid])[(uid, vti)] == "Brokerage"


def test_approval_refuses_a_harvest_once_dividends_are_reinvested(household) -> None:
    _buy(household["ira"], household["VTI"], "5", "180", D(2025, 1, 6))
    harvest.scan_for_harvest(user_ids=[household["user"].pk], on=ON)
    proposal = Proposal.objects.get()
    assert harvest.wash_sale_conflict(proposal, on=ON) is None
    _reinvest(household["ira"])
    assert harvest.wash_sale_conflict(proposal, on=ON) == (
        "Dividends of VTI (or a substantially identical fund) are reinvested automatically in "
        "your account 'IRA', which would make the loss a wash sale; turn reinvestment off for "
        "that account to harvest it."
    )
    noon = timezone.make_aware(dt.datetime.combine(ON, dt.time(12)))
    with time_machine.travel(noon, tick=False):
        decision = approval.approve_proposal(proposal.pk, by=household["user"])
    proposal.refresh_from_db()
    assert not decision.ok and "reinvested automatically" in decision.message
    assert proposal.status == Proposal.Status.EXPIRED
    assert "turn reinvestment off" in proposal.decision_note


def test_the_task_fans_out_in_batches_and_the_command_runs(
    household, django_capture_on_commit_callbacks, settings
) -> None:
    other = UserFactory(email="second@example.com")
    acct = _account(other, "Theirs")
    _buy(acct, household["VTI"], "10", "260", D(2025, 1, 6))
    settings.ADVISOR_SCAN_BATCH_SIZE = 1
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run_id = tasks.run_harvest_scan(ON.isoformat())
    assert len(callbacks) == 2  # one batch per household
    run = ScanRun.objects.get(pk=run_id)
    assert (run.kind, run.batches_total) == (ScanRun.Kind.HARVEST, 2)
    for batch in ScanBatch.objects.filter(scan_run_id=run_id):
        tasks.run_scan_batch(batch.pk)
    run.refresh_from_db()
    assert run.status == ScanRun.Status.FINISHED and run.proposals_created == 2
    assert Proposal.objects.filter(kind="harvest", status="pending").count() == 2
    call_command("harvest_scan", "--user", str(other.pk), "--date", ON.isoformat())
    assert Proposal.objects.filter(kind="harvest", status="pending").count() == 2


def test_seed_default_replacements_is_idempotent(db) -> None:
    us = AssetClassFactory(code="us")
    for t in ("VTI", "ITOT", "GLD", "IAU", "BND", "AGG"):
        SecurityFactory(ticker=t, asset_class=us)
    first = replacements.seed_default_replacements()
    second = replacements.seed_default_replacements()
    assert first["pairs_created"] == 4 and second == {"pairs_created": 0, "groups_created": 0}
    pairs = set(ReplacementPair.objects.values_list("security__ticker", "replacement__ticker"))
    assert pairs == {("VTI", "ITOT"), ("ITOT", "VTI"), ("BND", "AGG"), ("AGG", "BND")}
    gold = SubstantiallyIdenticalGroup.objects.get(name="Physical gold trusts")
    assert set(gold.members.values_list("security__ticker", flat=True)) == {"GLD", "IAU"}


# --- property: the product never washes its own harvests -------------------------------------

TICKERS = ["VTI", "ITOT", "SCHB", "VEA", "IEFA"]
PAIRS = [("VTI", "ITOT"), ("VTI", "SCHB"), ("ITOT", "SCHB"), ("VEA", "IEFA")]

step = st.tuples(
    st.integers(min_value=1, max_value=12),  # days to advance
    st.lists(
        st.sampled_from([0.85, 0.93, 0.97, 1.0, 1.03, 1.08]), min_size=5, max_size=5
    ),  # price moves
    st.sampled_from(["scan", "buy", "both"]),
    st.integers(min_value=0, max_value=2),  # account for a buy
    st.sampled_from(TICKERS),
)


def _wash_sales_in_history(owner) -> list[str]:
    """An independent check over the whole ledger: every loss sale in a taxable account, and
    every lot of the same security acquired within 30 days of it in any account (other than
    lots sold in full by that same sale)."""
    found = []
    sales = LotSale.objects.filter(
        transaction__portfolio__owner=owner, transaction__portfolio__tax_treatment="taxable"
    ).select_related("transaction", "lot")
    for sale in sales:
        if sale.proceeds >= sale.cost_basis:
            continue
        day = sale.transaction.trade_date
        sold_here = set(
            LotSale.objects.filter(transaction=sale.transaction, lot__quantity=0).values_list(
                "lot_id", flat=True
            )
        ) | {sale.lot_id}
        near = TaxLot.objects.filter(
            portfolio__owner=owner,
            security_id=sale.transaction.security_id,
            acquired_on__range=(day - dt.timedelta(days=30), day + dt.timedelta(days=30)),
        ).exclude(pk__in=sold_here)
        if near.exists():
            found.append(
                f"{sale.transaction.security} sold {day} at a loss; bought {list(near.values_list('acquired_on', flat=True))}"
            )
    return found


@hsettings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=3, max_size=8))
def test_no_sequence_of_product_trades_washes_a_loss(steps, django_user_model) -> None:
    with transaction.atomic():
        owner = UserFactory(email="prop@example.com")
        us = AssetClassFactory(code="us-prop")
        sec = {t: SecurityFactory(ticker=t, asset_class=us) for t in TICKERS}
        for a, b in PAIRS:
            ReplacementPair.objects.create(security=sec[a], replacement=sec[b])
            ReplacementPair.objects.create(security=sec[b], replacement=sec[a])
        HarvestSettings.objects.create(
            user=owner,
            min_loss_amount=Decimal("20"),
            min_loss_fraction=Decimal("0.02"),
            min_net_benefit=Decimal("1"),
        )
        accounts = [
            _account(owner, "Taxable 1"),
            _account(owner, "Taxable 2"),
            _account(owner, "IRA", Portfolio.TaxTreatment.TRADITIONAL_IRA),
        ]
        day = D(2026, 3, 2)
        prices = dict.fromkeys(TICKERS, 100.0)
        for t in TICKERS:
            _price(sec[t], "100", day)
        for acct in accounts:
            for t in ("VTI", "VEA"):
                _buy(acct, sec[t], "20", "100", day)
        for advance, moves, action, account_no, ticker in steps:
            day += dt.timedelta(days=advance)
            for t, m in zip(TICKERS, moves, strict=True):
                prices[t] = round(prices[t] * m, 2)
                _price(sec[t], f"{prices[t]:.2f}", day)
            if action in ("buy", "both"):
                # The rebalancer's contract: it never buys what blocked_purchases lists, nor (when a
                # harvest of it could follow) anything else; it picks the preferred security or a
                # replacement that is not blocked.
                blocked = selectors_harvest.blocked_purchases([owner.pk], day)
                options = (
                    [ticker]
                    + [b for a, b in PAIRS if a == ticker]
                    + [a for a, b in PAIRS if b == ticker]
                )
                choice = next((t for t in options if (owner.pk, sec[t].pk) not in blocked), None)
                if choice is not None:
                    _buy(accounts[account_no], sec[choice], "3", f"{prices[choice]:.2f}", day)
            if action in ("scan", "both"):
                harvest.scan_for_harvest(user_ids=[owner.pk], on=day)
                for proposal in Proposal.objects.filter(
                    kind="harvest", status="pending", portfolio__owner=owner
                ):
                    if harvest.wash_sale_conflict(proposal, on=day) is None:
                        _execute(proposal, day)
                    else:
                        Proposal.objects.filter(pk=proposal.pk).update(
                            status=Proposal.Status.EXPIRED
                        )
        executed = Proposal.objects.filter(
            kind="harvest", status="executed", portfolio__owner=owner
        ).count()
        event(f"harvests executed: {min(executed, 3)}{'+' if executed >= 3 else ''}")
        assert _wash_sales_in_history(owner) == []
        assert not WashSaleMatch.objects.filter(
            lot_sale__transaction__portfolio__owner=owner
        ).exists()
        transaction.set_rollback(True)
