"""The shared proposal machinery: fingerprints, the bulk writer, staleness and the sweep."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import AuditEvent
from rebalancing.models import Proposal, ProposedTrade
from rebalancing.selectors import holdings
from rebalancing.services import drafts, proposals
from tests.factories import PortfolioFactory, PriceFactory, SecurityFactory, TaxLotFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 25)  # a Wednesday


def _draft(
    portfolio, fingerprint: str, security, *, qty: str = "2", rule: str = "threshold"
) -> drafts.ProposalDraft:
    return drafts.ProposalDraft(
        portfolio_id=portfolio.pk,
        rule=rule,
        reason="Equity drifted 7.0 points above target (band 5.0).",
        prices_as_of=dt.date(2026, 11, 24),
        holdings_fingerprint=fingerprint,
        trades=[
            drafts.TradeDraft(
                security_id=security.pk,
                side="buy",
                quantity=Decimal(qty),
                price=Decimal("100"),
                est_cost=Decimal("0.1"),
            )
        ],
        total_value=Decimal("1000"),
        est_cost=Decimal("0.1"),
    )


def test_fingerprint_is_stable_and_tracks_lots_and_cash(django_assert_num_queries):
    a = PortfolioFactory(cash=Decimal("100.00"))
    b = PortfolioFactory(cash=Decimal("0.00"))
    lot = TaxLotFactory(portfolio=a, quantity=Decimal("10"))
    TaxLotFactory(
        portfolio=a,
        quantity=Decimal("0"),
        closed_on=dt.date(2025, 1, 1),
        original_quantity=Decimal("5"),
    )
    with django_assert_num_queries(1):
        first = holdings.holdings_fingerprint([a.pk, b.pk, 999_999])
    assert set(first) == {a.pk, b.pk}
    assert first[a.pk] != first[b.pk]
    assert holdings.holdings_fingerprint([a.pk]) == {a.pk: first[a.pk]}

    lot.quantity = Decimal("9.5")
    lot.save()
    after_sale = holdings.holdings_fingerprint([a.pk])[a.pk]
    assert after_sale != first[a.pk]
    a.cash = Decimal("100.01")
    a.save()
    assert holdings.holdings_fingerprint([a.pk])[a.pk] not in {after_sale, first[a.pk]}


def test_database_fingerprint_equals_the_python_hash_of_the_same_holdings():
    """PostgreSQL hashes the text of the numeric columns; `fingerprint_of` hashes the quantized
    Decimals a scan read. Both must agree, or every scan proposal would look stale."""
    a = PortfolioFactory(cash=Decimal("1234.50"))
    empty = PortfolioFactory(cash=Decimal("0.00"))
    lots = [
        TaxLotFactory(portfolio=a, quantity=Decimal(q), original_quantity=Decimal("900000"))
        for q in ("10", "0.00000001", "123456.12345678", "7.5")
    ]
    expected = holdings.fingerprint_of(
        "1234.5", [(lot.pk, str(lot.quantity)) for lot in reversed(lots)]
    )
    got = holdings.holdings_fingerprint([a.pk, empty.pk])
    assert got[a.pk] == expected
    assert got[empty.pk] == holdings.fingerprint_of(Decimal("0"), [])


@pytest.mark.parametrize(
    ("prices_as_of", "old"),
    [
        (dt.date(2026, 11, 24), False),  # Tuesday: 1 trading day
        (dt.date(2026, 11, 20), False),  # Friday: Fri, Mon, Tue = 3
        (dt.date(2026, 11, 19), True),  # Thursday: 4
        (dt.date(2026, 11, 21), False),  # Saturday counts from Monday: 2
    ],
)
def test_prices_older_than_max_trading_days_are_too_old(settings, prices_as_of, old):
    settings.ADVISOR_MAX_PRICE_AGE_DAYS = 3
    assert proposals.prices_too_old(prices_as_of, TODAY) is old


def test_writer_creates_keeps_identical_and_supersedes_changed(django_assert_max_num_queries):
    security = SecurityFactory()
    portfolios = [PortfolioFactory(cash=Decimal("1000")) for _ in range(3)]
    fps = holdings.holdings_fingerprint(p.pk for p in portfolios)
    drafts = [_draft(p, fps[p.pk], security) for p in portfolios]

    # 8, plus 2 for the audit chain (lock its head, advance it), whatever the number of drafts
    with django_assert_max_num_queries(10):
        result = proposals.write_proposals(drafts, kind="rebalance", now=NOW)
    assert len(result.created) == 3
    assert Proposal.objects.filter(status="pending").count() == 3
    assert ProposedTrade.objects.count() == 3
    assert AuditEvent.objects.filter(action="proposal.created.rebalance").count() == 3
    first = Proposal.objects.get(portfolio=portfolios[0])
    assert first.expires_at == NOW + dt.timedelta(hours=72)
    assert first.trades.get().amount == Decimal("200.00")

    again = proposals.write_proposals(drafts, kind="rebalance", now=NOW)
    assert again.created == [] and sorted(again.kept) == sorted(p.pk for p in portfolios)
    assert Proposal.objects.count() == 3

    changed = _draft(portfolios[0], fps[portfolios[0].pk], security, qty="3")
    result = proposals.write_proposals(
        [changed], kind="rebalance", retire_others_for=[portfolios[1].pk], now=NOW
    )
    assert result.superseded == 1 and result.retired == 1 and len(result.created) == 1
    first.refresh_from_db()
    assert first.status == "superseded"
    assert Proposal.objects.get(portfolio=portfolios[1]).status == "expired"
    assert (
        Proposal.objects.filter(portfolio=portfolios[0], status="pending")
        .get()
        .trades.get()
        .quantity
        == 3
    )
    # Idempotency keys stay unique across superseded and new proposals.
    assert (
        ProposedTrade.objects.values("idempotency_key").distinct().count()
        == ProposedTrade.objects.count()
    )


def test_database_refuses_a_second_pending_proposal_of_a_kind():
    portfolio = PortfolioFactory()
    security = SecurityFactory()
    fp = holdings.holdings_fingerprint([portfolio.pk])[portfolio.pk]
    proposals.write_proposals([_draft(portfolio, fp, security)], kind="rebalance", now=NOW)
    with pytest.raises(IntegrityError), transaction.atomic():
        Proposal.objects.create(
            portfolio=portfolio,
            kind="rebalance",
            rule="x",
            reason="x",
            prices_as_of=TODAY,
            holdings_fingerprint=fp,
            expires_at=NOW,
        )
    # A harvest proposal may wait beside the rebalance one.
    proposals.write_proposals([_draft(portfolio, fp, security)], kind="harvest", now=NOW)
    assert Proposal.objects.filter(portfolio=portfolio, status="pending").count() == 2


def test_is_stale_gives_the_reason(settings):
    settings.ADVISOR_MAX_PRICE_AGE_DAYS = 3
    security = SecurityFactory()
    PriceFactory(security=security, date=dt.date(2026, 11, 24), close=Decimal("100"))
    portfolio = PortfolioFactory(cash=Decimal("1000"))
    fp = holdings.holdings_fingerprint([portfolio.pk])[portfolio.pk]
    proposal = proposals.write_proposals(
        [_draft(portfolio, fp, security)], kind="rebalance", now=NOW
    ).created[0]
    proposal = Proposal.objects.get(pk=proposal.pk)

    assert proposals.is_stale(proposal, now=NOW + dt.timedelta(hours=1)) is None
    assert "older than 72 hours" in proposals.is_stale(proposal, now=NOW + dt.timedelta(hours=73))

    PriceFactory(security=security, date=dt.date(2026, 11, 25), close=Decimal("106"))
    assert "prices moved" in proposals.is_stale(proposal, now=NOW)
    portfolio.cash = Decimal("1500")
    portfolio.save()
    assert "holdings or cash changed" in proposals.is_stale(proposal, now=NOW)


def test_is_stale_on_old_prices(settings):
    settings.ADVISOR_MAX_PRICE_AGE_DAYS = 3
    settings.ADVISOR_PROPOSAL_TTL_HOURS = 24 * 30
    portfolio = PortfolioFactory()
    security = SecurityFactory()
    fp = holdings.holdings_fingerprint([portfolio.pk])[portfolio.pk]
    created = proposals.write_proposals(
        [_draft(portfolio, fp, security)], kind="rebalance", now=NOW
    ).created[0]
    proposal = Proposal.objects.get(pk=created.pk)
    # Prices of Tue 24 Nov: on Mon 30 Nov they are Tue, Wed, Fri = 3 sessions old (Thursday 26
    # is Thanksgiving), still fresh; on Tue 1 Dec they are 4 sessions old.
    monday = timezone.make_aware(dt.datetime(2026, 11, 30, 12))
    assert proposals.is_stale(proposal, now=monday) is None
    tuesday = timezone.make_aware(dt.datetime(2026, 12, 1, 12))
    assert "trading days old" in proposals.is_stale(proposal, now=tuesday)


def test_sweep_expires_each_kind_of_stale_once(settings):
    settings.ADVISOR_MAX_PRICE_AGE_DAYS = 3
    security = SecurityFactory()
    fresh, old, changed, aged = (PortfolioFactory(cash=Decimal("10")) for _ in range(4))
    fps = holdings.holdings_fingerprint([fresh.pk, old.pk, changed.pk, aged.pk])
    drafts = [_draft(p, fps[p.pk], security) for p in (fresh, old, changed)]
    drafts[1].prices_as_of = dt.date(2026, 11, 16)
    proposals.write_proposals(drafts, kind="rebalance", now=NOW)
    proposals.write_proposals(
        [_draft(aged, fps[aged.pk], security)], kind="rebalance", now=NOW - dt.timedelta(hours=80)
    )
    changed.cash = Decimal("11")
    changed.save()

    assert proposals.expire_stale_proposals(now=NOW) == 3
    assert proposals.expire_stale_proposals(now=NOW) == 0
    statuses = dict(Proposal.objects.values_list("portfolio_id", "status"))
    assert statuses == {
        fresh.pk: "pending",
        old.pk: "expired",
        changed.pk: "expired",
        aged.pk: "expired",
    }
    notes = dict(Proposal.objects.values_list("portfolio_id", "decision_note"))
    assert (
        "trading days" in notes[old.pk]
        and "changed" in notes[changed.pk]
        and "hours" in notes[aged.pk]
    )
