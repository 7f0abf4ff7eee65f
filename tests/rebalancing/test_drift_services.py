"""Drift check services, command and the "check now" view against PostgreSQL."""

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from accounts.models import AuditEvent, InvestorProfile, User
from advisor.core import clock
from portfolios.models import Portfolio, Price, TaxLot
from rebalancing import tasks
from rebalancing.models import Notification, Proposal, RebalancePolicy, ScanBatch, ScanRun
from rebalancing.selectors import holdings
from rebalancing.services import drift, notifications, proposals, scans
from tests.factories import PASSWORD
from tests.rebalancing.drift_world import TODAY, make_portfolios, make_world

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_the_drift_day")]


@pytest.fixture
def world():
    return make_world()


def test_a_loss_lot_is_kept_while_the_household_reinvests_its_dividends(world, user):
    """The rebalancer never sells at a loss what another account of the household is about
    to buy back through dividend reinvestment (an IRA included)."""
    (taxable,) = make_portfolios(world, 1, owner=user)
    # VTI bought at 120 a share, now at 100: selling realises a loss.
    TaxLot.objects.filter(portfolio=taxable, security=world.equity).update(
        cost_basis=Decimal("8400")
    )
    before = drift.run_drift_check(taxable, today=TODAY, dry_run=True)
    first = before.draft.trades[0]
    assert (first.side, first.security_id) == ("sell", world.equity.pk)

    (ira,) = make_portfolios(world, 1, owner=user, equity_shares=1, bond_shares=0)
    Portfolio.objects.filter(pk=ira.pk).update(
        tax_treatment=Portfolio.TaxTreatment.TRADITIONAL_IRA, reinvest_dividends=True
    )
    after = drift.run_drift_check(taxable, today=TODAY, dry_run=True)
    trades = after.draft.trades if after.draft else []
    assert ("sell", world.equity.pk) not in [(t.side, t.security_id) for t in trades]
    assert "dividends are reinvested" in after.notes


def test_the_tax_estimate_uses_the_investors_own_rates(world, user):
    """A 37% / 20% bracket from the profile, not the defaults (24% / 15%)."""
    InvestorProfile.objects.create(
        user=user, short_term_tax_rate=Decimal("0.37"), long_term_tax_rate=Decimal("0.20")
    )
    (portfolio,) = make_portfolios(world, 1, owner=user)
    other_owner = User.objects.create_user("other-investor@example.com", "x-password-2026")
    (other,) = make_portfolios(world, 1, owner=other_owner)
    drift.check_portfolios([portfolio.pk, other.pk], today=TODAY)
    mine = Proposal.objects.get(portfolio=portfolio)
    theirs = Proposal.objects.get(portfolio=other)
    gain = mine.trades.get(side="sell").est_long_term_gain
    assert gain > 0
    assert mine.est_tax == (gain * Decimal("0.20")).quantize(Decimal("0.01"))
    their_gain = theirs.trades.get(side="sell").est_long_term_gain
    assert theirs.est_tax == (their_gain * Decimal("0.15")).quantize(Decimal("0.01"))


def test_drifted_portfolio_gets_a_full_proposal(world, user, django_capture_on_commit_callbacks):
    (portfolio,) = make_portfolios(world, 1, owner=user)
    with django_capture_on_commit_callbacks() as callbacks:
        result = drift.run_drift_check(portfolio, today=TODAY)
    assert result.status == "proposed" and result.rule == "threshold"
    proposal = Proposal.objects.get(pk=result.proposal_id)
    assert proposal.status == "pending" and proposal.kind == "rebalance"
    assert proposal.reason == (
        "US bonds is at 30.0% against a target of 40.0% (drift -10.0 points, band ±5.0 points); "
        "1 more class outside its band."
    )
    assert proposal.before_weights == {"us-bonds": 0.3, "us-equity": 0.7}
    assert proposal.target_weights == {"us-bonds": 0.4, "us-equity": 0.6}
    assert proposal.drift == {"us-bonds": -0.1, "us-equity": 0.1}
    assert proposal.prices_as_of == dt.date(2026, 11, 24)
    assert proposal.details["prices"]["VTI"] == ["100.000000", "2026-11-24"]
    # 10,000 total, 1% buffer (100) stays: investable ~9,900 less costs -> sell ~1,060 VTI.
    sell, buy = proposal.trades.order_by("sequence")
    assert (sell.side, sell.security_id, buy.side, buy.security_id) == (
        "sell",
        world.equity.pk,
        "buy",
        world.bonds.pk,
    )
    assert Decimal("1055") < sell.amount < Decimal("1065")
    assert Decimal("955") < buy.amount < Decimal("965")
    lot = TaxLot.objects.get(portfolio=portfolio, security=world.equity)
    assert sell.lots[0]["lot"] == lot.pk
    # Bought at 80, long-term: the gain is 20 a share.
    assert sell.est_long_term_gain == (sell.quantity * 20).quantize(Decimal("0.01"))
    assert proposal.est_tax == (sell.est_long_term_gain * Decimal("0.15")).quantize(Decimal("0.01"))
    assert proposal.after_weights["us-equity"] == pytest.approx(0.6, abs=1e-4)
    assert (
        AuditEvent.objects.filter(
            action="proposal.created.rebalance", object_id=str(proposal.pk)
        ).count()
        == 1
    )
    assert len(callbacks) == 1  # process_new_proposals, after the commit

    # The enqueued task notifies the investor, who gets one email.
    tasks.process_new_proposals([proposal.pk])
    note = Notification.objects.get(proposal=proposal, kind="waiting")
    notifications.send_email(note.pk)
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert "waiting for your approval" in mail.outbox[0].subject


def test_checking_again_keeps_the_identical_proposal(world):
    (portfolio,) = make_portfolios(world, 1)
    first = drift.run_drift_check(portfolio, today=TODAY)
    again = drift.run_drift_check(portfolio, today=TODAY)
    assert again.status == "unchanged"
    assert Proposal.objects.filter(portfolio=portfolio).count() == 1
    assert Proposal.objects.get().pk == first.proposal_id


def test_new_prices_supersede_the_pending_proposal(world):
    (portfolio,) = make_portfolios(world, 1)
    first = drift.run_drift_check(portfolio, today=TODAY)
    Price.objects.create(security=world.equity, date=TODAY, close=Decimal("104"))
    Price.objects.create(security=world.bonds, date=TODAY, close=Decimal("50"))
    second = drift.run_drift_check(portfolio, today=TODAY)
    assert second.status == "proposed"
    assert Proposal.objects.get(pk=first.proposal_id).status == "superseded"
    assert Proposal.objects.get(pk=second.proposal_id).prices_as_of == TODAY


def test_dry_run_writes_nothing(world):
    (portfolio,) = make_portfolios(world, 1)
    result = drift.run_drift_check(portfolio, dry_run=True, today=TODAY)
    assert result.status == "would_propose" and result.draft is not None
    assert not Proposal.objects.exists()


def test_portfolio_back_inside_its_bands_retires_the_pending_proposal(world):
    (portfolio,) = make_portfolios(world, 1)
    first = drift.run_drift_check(portfolio, today=TODAY)
    # The investor traded by hand: now 6,100 / 3,900.
    TaxLot.objects.filter(portfolio=portfolio, security=world.equity).update(quantity=61)
    TaxLot.objects.filter(portfolio=portfolio, security=world.bonds).update(
        quantity=78, original_quantity=78
    )
    result = drift.run_drift_check(portfolio, today=TODAY)
    assert result.status == "no_action"
    retired = Proposal.objects.get(pk=first.proposal_id)
    assert retired.status == "expired" and "within its policy" in retired.decision_note


def test_in_band_portfolio_gets_no_proposal(world):
    make_portfolios(world, 2, equity_shares=62, bond_shares=76)  # 6200 / 3800
    result = drift.check_portfolios([p.pk for p in world.model.portfolios.all()], today=TODAY)
    assert [r.status for r in result.results] == ["no_action", "no_action"]
    assert not Proposal.objects.exists()


def test_missing_or_old_prices_skip_the_portfolio(world):
    (portfolio,) = make_portfolios(world, 1)
    assert (
        drift.run_drift_check(portfolio, today=dt.date(2026, 12, 7)).status == "skipped"
    )  # 9 trading days
    Price.objects.filter(security=world.bonds).delete()
    result = drift.run_drift_check(portfolio, today=TODAY)
    assert result.status == "skipped" and result.notes == "missing prices"
    assert not Proposal.objects.exists()


def test_calendar_rule_from_the_model_default_policy(world):
    RebalancePolicy.objects.create(
        model=world.model,
        calendar_frequency="quarterly",
        calendar_day=1,
        absolute_band=None,
        relative_band=None,
    )
    (portfolio,) = make_portfolios(world, 1, equity_shares=63, bond_shares=74)  # 6300 / 3700
    result = drift.run_drift_check(portfolio, today=TODAY)
    assert result.status == "proposed" and result.rule == "calendar"
    assert "quarterly rebalance date 2026-10-01" in result.reason
    proposal = Proposal.objects.get(pk=result.proposal_id)
    # Once decided, the calendar waits for the next quarter.
    Proposal.objects.filter(pk=proposal.pk).update(status="rejected")
    assert drift.run_drift_check(portfolio, today=TODAY).status == "no_action"


def test_own_policy_beats_the_model_policy(world):
    RebalancePolicy.objects.create(
        model=world.model, absolute_band=Decimal("0.15"), relative_band=None
    )
    (portfolio,) = make_portfolios(world, 1)
    assert (
        drift.run_drift_check(portfolio, dry_run=True, today=TODAY).status == "no_action"
    )  # 10 < 15 points
    RebalancePolicy.objects.create(
        portfolio=portfolio, absolute_band=Decimal("0.05"), relative_band=None
    )
    assert drift.run_drift_check(portfolio, dry_run=True, today=TODAY).status == "would_propose"


def test_a_batch_costs_a_constant_number_of_queries(world, django_assert_max_num_queries):
    small = [p.pk for p in make_portfolios(world, 3)]
    large = [p.pk for p in make_portfolios(world, 60)]
    drift.check_portfolios(small, today=TODAY)  # warm caches (content types etc.)
    Proposal.objects.all().delete()
    # 22, plus 2 for the audit chain (lock its head, advance it) and 1 for the open withdrawal
    # requests, whatever the batch size
    with django_assert_max_num_queries(25) as small_queries:
        drift.check_portfolios(small, today=TODAY)
    with django_assert_max_num_queries(25) as large_queries:
        result = drift.check_portfolios(large, today=TODAY)
    assert len(result.created) == 60
    assert len(large_queries.captured_queries) == len(small_queries.captured_queries)


def test_scan_records_batches_and_statistics_once(world, django_capture_on_commit_callbacks):
    portfolios = make_portfolios(world, 5)
    make_portfolios(world, 2, equity_shares=62, bond_shares=76)
    with django_capture_on_commit_callbacks() as callbacks:
        run = scans.start_scan(ScanRun.Kind.DRIFT, as_of=TODAY, batch_size=3)
    assert run.batches_total == 3 and len(callbacks) == 3
    for batch in ScanBatch.objects.filter(scan_run=run):
        scans.run_batch(batch.pk)
    scans.run_batch(ScanBatch.objects.get(scan_run=run, number=0).pk)  # a redelivery
    run.refresh_from_db()
    assert run.status == "finished" and run.batches_done == 3
    assert run.portfolios_checked == 7 and run.proposals_created == 5
    assert run.duration_seconds is not None and run.finished_at is not None
    assert Proposal.objects.filter(scan_run=run).count() == 5
    assert {p.portfolio_id for p in Proposal.objects.all()} == {p.pk for p in portfolios}


def test_failed_batch_is_recorded_for_the_admin_and_the_run_ends_abandoned(world):
    make_portfolios(world, 2)
    run = scans.start_scan(ScanRun.Kind.DRIFT, as_of=TODAY, batch_size=10)
    batch = ScanBatch.objects.get(scan_run=run)
    ScanBatch.objects.filter(pk=batch.pk).update(ids=["not-an-id"])
    scans.run_batch(batch.pk)
    run.refresh_from_db()
    assert run.status == "abandoned" and run.batches_done == 1
    assert run.errors and "Batch 0 failed" in run.errors[0]


def test_a_running_scan_from_before_batch_leases_is_closed_by_the_sweeper(world):
    old = ScanRun.objects.create(kind="drift", as_of=TODAY)
    ScanRun.objects.filter(pk=old.pk).update(started_at=old.started_at - dt.timedelta(hours=7))
    scans.resend_stalled_batches()
    old.refresh_from_db()
    assert old.status == "abandoned"


def test_drift_check_command(world):
    (portfolio,) = make_portfolios(world, 1)
    out = StringIO()
    call_command("drift_check", "--portfolio", str(portfolio.pk), "--dry-run", stdout=out)
    assert (
        "would_propose (threshold)" in out.getvalue()
        and "Dry run, nothing written" in out.getvalue()
    )
    assert not Proposal.objects.exists()
    call_command("drift_check", stdout=out)
    assert Proposal.objects.filter(portfolio=portfolio, status="pending").count() == 1
    with pytest.raises(CommandError, match="No portfolio with id 999999"):
        call_command("drift_check", "--portfolio", "999999")


def test_check_now_view_is_scoped_to_the_owner(world, client, user, other_user):
    (portfolio,) = make_portfolios(world, 1, owner=user)
    url = reverse("rebalancing:check_now", args=[portfolio.pk])
    client.login(email=other_user.email, password=PASSWORD)
    assert client.post(url).status_code == 404
    assert not Proposal.objects.exists()
    client.login(email=user.email, password=PASSWORD)
    assert client.get(url).status_code == 405
    response = client.post(url)
    proposal = Proposal.objects.get(portfolio=portfolio)
    assert response.status_code == 302 and response["Location"] == reverse(
        "rebalancing:detail", args=[proposal.pk]
    )
    (in_band,) = make_portfolios(world, 1, owner=user, equity_shares=62, bond_shares=76)
    response = client.post(reverse("rebalancing:check_now", args=[in_band.pk]), follow=True)
    assert "within its rebalancing policy" in response.content.decode()


def test_demo_data_gives_the_drift_check_work():

    call_command("seed_demo", stdout=StringIO())
    out = StringIO()
    call_command("drift_check", stdout=out)
    proposals = Proposal.objects.filter(kind="rebalance", status="pending")
    assert proposals.exists(), out.getvalue()
    for proposal in proposals:
        assert proposal.trades.exists() and proposal.reason
        assert proposal.prices_as_of <= clock.today()
    call_command("drift_check", stdout=out)  # a second run changes nothing
    assert Proposal.objects.filter(kind="rebalance").count() == proposals.count()


def test_proposal_fingerprint_matches_the_holdings_it_was_built_on(world):
    (portfolio,) = make_portfolios(world, 1, cash="12.30")
    TaxLot.objects.filter(portfolio=portfolio, security=world.bonds).update(
        quantity=Decimal("59.00000001")
    )
    result = drift.run_drift_check(portfolio, today=TODAY)
    proposal = Proposal.objects.get(pk=result.proposal_id)
    expected = holdings.holdings_fingerprint([portfolio.pk])[portfolio.pk]
    assert proposal.holdings_fingerprint == expected
    assert proposals.is_stale(proposal) is None or "prices" in proposals.is_stale(proposal)


def test_custom_targets_apply_without_a_model(world):
    from portfolios.models import TargetAllocation

    (portfolio,) = make_portfolios(world, 1)
    portfolio.model = None
    portfolio.save()
    for security, weight in ((world.equity, "0.7"), (world.bonds, "0.3")):
        TargetAllocation.objects.create(
            portfolio=portfolio,
            asset_class=security.asset_class,
            security=security,
            weight=Decimal(weight),
        )
    # 7000 / 3000 is exactly on a 70/30 custom target: nothing to do.
    assert drift.run_drift_check(portfolio, dry_run=True, today=TODAY).status == "no_action"
    TargetAllocation.objects.filter(portfolio=portfolio, security=world.equity).update(
        weight=Decimal("0.5")
    )
    TargetAllocation.objects.filter(portfolio=portfolio, security=world.bonds).update(
        weight=Decimal("0.5")
    )
    assert drift.run_drift_check(portfolio, dry_run=True, today=TODAY).status == "would_propose"


def test_the_short_term_gain_the_policy_holds_back_is_recorded(world, user, settings):
    """70 VTI at 100 (basis 80): 5 shares long-term, 65 bought 100 days ago (short-term, a
    gain of 20 each). Back to 60/40 with the default 1% cash buffer and no trading costs:
    equities 60% of 9,900 = 5,940, so sell 1,060 of VTI. The 5 long-term shares give 500; the
    policy (no short-term gains) holds back the other 560 = 5.6 shares x 20 = 112."""
    settings.ADVISOR_PAPER_SLIPPAGE_BPS = 0.0
    settings.ADVISOR_PAPER_COMMISSION = 0.0
    (portfolio,) = make_portfolios(world, 1, owner=user)
    lot = TaxLot.objects.get(portfolio=portfolio, security=world.equity)
    TaxLot.objects.filter(pk=lot.pk).update(
        quantity=Decimal("5"), original_quantity=Decimal("5"), cost_basis=Decimal("400")
    )
    recent = TODAY - dt.timedelta(days=100)
    TaxLot.objects.create(
        portfolio=portfolio, security=world.equity, quantity=Decimal("65"),
        original_quantity=Decimal("65"), cost_basis=Decimal("5200"), acquired_on=recent,
        holding_start=recent, opened_by=lot.opened_by,
    )  # fmt: skip
    result = drift.run_drift_check(portfolio, today=TODAY, dry_run=True)
    assert result.draft is not None
    assert result.draft.details["short_term_gain_held_back"] == pytest.approx(112.0)
