"""Proposals: the bulk writer shared by both scans, freshness, and the expiry sweep.

- ``write_proposals(drafts, *, kind, scan_run_id=None, retire_others_for=()) -> WriteResult``:
  atomic; per (portfolio, kind) it keeps an identical pending proposal (same content key:
  holdings, prices date, rule, trades) instead of writing a duplicate, and otherwise
  supersedes the older pending one and inserts the new Proposal + ProposedTrades with COPY.
  The partial unique constraint ``proposal_one_pending_per_kind`` is the last guard; portfolio
  rows are locked (in id order) so two concurrent writers serialise per portfolio. New
  proposals are handed on (auto-approval or a notification) after the commit.
- ``is_stale(proposal, *, now=None) -> str | None``: the reason a pending proposal may no longer
  be acted on (too old, prices too old, holdings changed, prices moved), or None. Call it inside
  the approval transaction after locking the proposal.
- ``expire_stale_proposals(*, now=None) -> int``: set-based sweep that marks every stale pending
  proposal expired (the hourly task ``rebalancing.tasks.expire_stale_proposals``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from accounts import audit
from accounts.models import AuditEvent
from advisor.core import clock, dates
from advisor.core.chunks import chunks
from advisor.core.copy import insert_rows, insert_rows_with_ids
from advisor.core.lookups import Ids
from portfolios import market_calendar, selectors
from portfolios.models import Portfolio
from rebalancing.models import Proposal, ProposedTrade
from rebalancing.selectors.holdings import holdings_fingerprint
from rebalancing.services import dispatch
from rebalancing.services.drafts import ProposalDraft

CENT = Decimal("0.01")
QTY = Decimal("0.00000001")
PRICE_Q = Decimal("0.000001")
# A pending proposal whose traded securities moved more than this (fraction) since it was built
# is stale: its trade sizes no longer reach the target.
DEFAULT_MAX_PRICE_MOVE = 0.05


# --- freshness ------------------------------------------------------------------------------


def expiry_for(now: dt.datetime) -> dt.datetime:
    """The expiry of a proposal created at `now` (ADVISOR_PROPOSAL_TTL_HOURS later)."""
    return now + dt.timedelta(hours=settings.ADVISOR_PROPOSAL_TTL_HOURS)


def prices_too_old(prices_as_of: dt.date, today: dt.date) -> bool:
    """True when prices dated `prices_as_of` are older than ADVISOR_MAX_PRICE_AGE_DAYS trading days."""
    return (
        market_calendar.sessions_between(prices_as_of, today) > settings.ADVISOR_MAX_PRICE_AGE_DAYS
    )


def _max_price_move() -> float:
    return float(getattr(settings, "ADVISOR_PROPOSAL_MAX_PRICE_MOVE", DEFAULT_MAX_PRICE_MOVE))


def is_stale(proposal: Proposal, *, now: dt.datetime | None = None) -> str | None:
    """Why `proposal` may no longer be acted on, or None when it is still fresh.

    Checks, cheapest first: past its expiry; prices older than the allowed trading days;
    holdings (open lots or cash) changed since it was built; the latest price of a traded
    security moved by more than ADVISOR_PROPOSAL_MAX_PRICE_MOVE (default 5%) from the price the
    proposal used. Does not look at the status (the caller holds the row lock and checks it).
    At most three queries.
    """
    now = now or clock.now()
    if proposal.expires_at <= now:
        return f"Expired: older than {settings.ADVISOR_PROPOSAL_TTL_HOURS} hours."
    today = clock.local_date(now)
    if prices_too_old(proposal.prices_as_of, today):
        return (
            f"Expired: built on prices of {dates.day(proposal.prices_as_of)}, more than "
            f"{settings.ADVISOR_MAX_PRICE_AGE_DAYS} trading days old."
        )
    current = holdings_fingerprint([proposal.portfolio_id]).get(proposal.portfolio_id)
    if current != proposal.holdings_fingerprint:
        return "Expired: the account's holdings or cash changed since this proposal was made."
    used = {t.security_id: t.price for t in proposal.trades.all()}
    if used:
        latest = selectors.latest_prices(used.keys())["close"].to_dict()
        limit = _max_price_move()
        for security_id, price in used.items():
            new = latest.get(security_id)
            if new is not None and price and abs(new / float(price) - 1.0) > limit:
                return f"Expired: prices moved more than {limit:.0%} since this proposal was made."
    return None


# --- the bulk writer ------------------------------------------------------------------------


@dataclass
class Created:
    """A proposal the writer inserted."""

    pk: int
    portfolio_id: int


@dataclass
class WriteResult:
    created: list[Created] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)  # portfolios whose identical pending stayed
    superseded: int = 0
    retired: int = 0


def _q(value: Decimal | float | int, quantum: Decimal) -> Decimal:
    return (value if isinstance(value, Decimal) else Decimal(str(value))).quantize(quantum)


def write_proposals(
    drafts: Sequence[ProposalDraft],
    *,
    kind: str,
    scan_run_id: int | None = None,
    retire_others_for: Iterable[int] = (),
    now: dt.datetime | None = None,
) -> WriteResult:
    """Write proposals of one `kind` in bulk, atomically and idempotently.

    For each draft's portfolio: an existing pending proposal of this kind with the same content
    key is kept (a re-run, a retry or a concurrent scan writes nothing); a different one is
    marked superseded and the draft is inserted. Portfolios in `retire_others_for` that have no
    draft (checked and found fine) get their pending proposal of this kind expired, because
    it no longer reflects the account. One audit event per created proposal; the created
    proposals are handed to `process_new_proposals` after the commit.

    Constant number of queries regardless of len(drafts): find pending; when anything changes,
    lock those portfolios, read their pending proposals under the lock, supersede, retire,
    insert proposals, trades and audit events.
    """
    now = now or clock.now()
    by_portfolio = {d.portfolio_id: d for d in drafts}
    if len(by_portfolio) != len(drafts):
        raise ValueError("At most one draft per portfolio.")
    retire = set(retire_others_for) - set(by_portfolio)
    keys = {pid: d.content_key(kind) for pid, d in by_portfolio.items()}
    result = WriteResult()
    # A draft identical to the one waiting is kept without a lock (a re-run writes nothing);
    # only portfolios with something to write or retire are locked and read again.
    pending_keys = _pending_keys(sorted(set(by_portfolio) | retire), kind)
    unchanged = {pid for pid in by_portfolio if pending_keys.get(pid) == keys[pid]}
    result.kept = sorted(unchanged)
    relevant = sorted((set(by_portfolio) - unchanged) | (retire & set(pending_keys)))
    if not relevant:
        return result
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Proposals are recomputed by every scan, so a crash losing the last moments of
            # commits costs nothing; not waiting for the WAL flush halves a batch's write time.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        owners, pending = _lock(relevant, kind)
        to_write, supersede = [], []
        for pid in relevant:
            if pid not in by_portfolio or pid not in owners:
                continue  # to retire, or deleted since it was read
            old_pk, old_key = pending.get(pid, (None, None))
            if old_key == keys[pid]:
                result.kept.append(pid)
                continue
            if old_pk is not None:
                supersede.append(old_pk)
            to_write.append(by_portfolio[pid])
        result.superseded = Proposal.objects.filter(pk__any=Ids(supersede)).retire_pending(
            Proposal.Status.SUPERSEDED, "Superseded by a newer check.", now=now
        ) if supersede else 0  # fmt: skip
        retire_ids = [pending[pid][0] for pid in retire if pid in pending]
        if retire_ids:
            result.retired = Proposal.objects.filter(pk__any=Ids(retire_ids)).expire_pending(
                "No longer needed: the latest check found the account within its policy.",
                now=now,
            )
        result.created = _insert(
            to_write, keys, owners, kind=kind, scan_run_id=scan_run_id, now=now
        )
        if result.created:
            dispatch.send_on_commit(dispatch.PROCESS_NEW_PROPOSALS, [c.pk for c in result.created])
    return result


def _pending_keys(ids: list[int], kind: str) -> dict[int, str]:
    """{portfolio id: content key} of the pending proposals of `kind`, read over the id range
    (the query does not grow with the batch), the key taken from the JSON in the database."""
    if not ids:
        return {}
    wanted = set(ids)
    rows = Proposal.objects.filter(
        portfolio_id__gte=ids[0], portfolio_id__lte=ids[-1], kind=kind
    ).pending()
    return {
        pid: key
        for pid, key in rows.values_list("portfolio_id", "details__content_key")
        if pid in wanted
    }


def _lock(ids: list[int], kind: str) -> tuple[dict[int, int], dict[int, tuple[int, str]]]:
    """Lock the portfolio rows in id order (concurrent writers serialise per portfolio and
    cannot deadlock); then, under the lock, read their pending proposals again (a concurrent
    writer may have committed one). Returns ({portfolio: owner}, {portfolio: (pk, key)})."""
    owners = dict(
        Portfolio.objects.select_for_update()
        .filter(pk__any=Ids(ids))
        .order_by("pk")
        .values_list("pk", "owner_id")
    )
    pending = {
        pid: (pk, key)
        for pk, pid, key in Proposal.objects.filter(portfolio_id__any=Ids(ids), kind=kind)
        .pending()
        .values_list("id", "portfolio_id", "details__content_key")
    }
    return owners, pending


def _insert(
    drafts: list[ProposalDraft],
    keys: dict[int, str],
    owners: dict[int, int],
    *,
    kind: str,
    scan_run_id: int | None,
    now: dt.datetime,
) -> list[Created]:
    """COPY the proposals, their trades and one audit event per proposal."""
    if not drafts:
        return []
    expires = expiry_for(now)
    rows = [_proposal_row(d, keys[d.portfolio_id], kind, scan_run_id, now, expires) for d in drafts]
    insert_rows_with_ids(Proposal, rows)
    trades = [
        _trade_row(row["id"], i, t)
        for row, d in zip(rows, drafts, strict=True)
        for i, t in enumerate(d.trades)
    ]
    insert_rows(ProposedTrade, trades)
    trade_counts: dict[int, int] = {}  # per proposal, in one pass (not per proposal x trade)
    for t in trades:
        trade_counts[t["proposal_id"]] = trade_counts.get(t["proposal_id"], 0) + 1
    kind_label = Proposal.Kind(kind).label
    events = [
        audit.Event(
            action=f"proposal.created.{kind}",
            household_id=owners[p["portfolio_id"]],
            object_type=Proposal._meta.label,
            object_id=str(p["id"]),
            summary=f"{kind_label} proposed ({p['rule']}): {p['reason']}",
            data={
                "portfolio": p["portfolio_id"],
                "rule": p["rule"],
                "trades": trade_counts.get(p["id"], 0),
                "est_tax": str(p["est_tax"]),
                "est_cost": str(p["est_cost"]),
                "prices_as_of": p["prices_as_of"].isoformat(),
                "holdings_fingerprint": p["holdings_fingerprint"],
                "scan_run": scan_run_id,
            },
        )
        for p in rows
    ]
    insert_rows(AuditEvent, audit.rows(events, now=now))
    return [Created(row["id"], row["portfolio_id"]) for row in rows]


def _proposal_row(
    d: ProposalDraft,
    key: str,
    kind: str,
    scan_run_id: int | None,
    now: dt.datetime,
    expires: dt.datetime,
) -> dict[str, Any]:
    return {
        "portfolio_id": d.portfolio_id,
        "kind": kind,
        "status": Proposal.Status.PENDING,
        "rule": d.rule[:32],
        "reason": d.reason,
        "scan_run_id": scan_run_id,
        "before_weights": d.before_weights,
        "after_weights": d.after_weights,
        "target_weights": d.target_weights,
        "drift": d.drift,
        "details": {**d.details, "content_key": key},
        "total_value": _q(d.total_value, CENT),
        "est_short_term_gain": _q(d.est_short_term_gain, CENT),
        "est_long_term_gain": _q(d.est_long_term_gain, CENT),
        "est_tax": _q(d.est_tax, CENT),
        "est_cost": _q(d.est_cost, CENT),
        "prices_as_of": d.prices_as_of,
        "holdings_fingerprint": d.holdings_fingerprint,
        "created_at": now,
        "expires_at": expires,
        "auto_approved": d.auto_approved,
    }


def _trade_row(proposal_id: int, i: int, t: Any) -> dict[str, Any]:
    quantity = _q(t.quantity, QTY)
    price = _q(t.price, PRICE_Q)
    amount = _q(t.amount if t.amount is not None else quantity * price, CENT)
    return {
        "proposal_id": proposal_id,
        "security_id": t.security_id,
        "side": t.side,
        "quantity": quantity,
        "price": price,
        "amount": abs(amount),
        "lots": t.lots,
        "est_short_term_gain": _q(t.est_short_term_gain, CENT),
        "est_long_term_gain": _q(t.est_long_term_gain, CENT),
        "est_cost": _q(t.est_cost, CENT),
        "sequence": t.sequence,
        # Unique per trade for ever: the broker's client order id.
        "idempotency_key": f"p{proposal_id}-{i}-{t.side}-{t.security_id}"[:64],
    }


# --- the sweep -----------------------------------------------------------------------------

EXPIRE_CHUNK = 5000


def expire_stale_proposals(*, now: dt.datetime | None = None) -> int:
    """Mark every stale pending proposal expired; returns how many. Idempotent (status guard).

    Set-based: one UPDATE for the age rule, one for old prices, and one fingerprint query per
    chunk of pending proposals for changed holdings (a price-move check is left to `is_stale`
    at approval time, since the nightly scan supersedes proposals anyway).
    """
    now = now or clock.now()
    today = clock.local_date(now)
    pending = Proposal.objects.pending()
    count = pending.filter(expires_at__lte=now).expire_pending(
        f"Expired: older than {settings.ADVISOR_PROPOSAL_TTL_HOURS} hours.", now=now
    )
    dates = set(pending.values_list("prices_as_of", flat=True).distinct())
    old_dates = [d for d in dates if prices_too_old(d, today)]
    if old_dates:
        count += pending.filter(prices_as_of__in=old_dates).expire_pending(
            f"Expired: built on prices more than {settings.ADVISOR_MAX_PRICE_AGE_DAYS} "
            "trading days old.",
            now=now,
        )
    rows = list(pending.order_by("pk").values_list("pk", "portfolio_id", "holdings_fingerprint"))
    for chunk in chunks(rows, EXPIRE_CHUNK):
        current = holdings_fingerprint(pid for _, pid, _ in chunk)
        changed = [pk for pk, pid, fp in chunk if current.get(pid) != fp]
        if changed:
            count += Proposal.objects.filter(pk__any=Ids(changed)).expire_pending(
                "Expired: the account's holdings or cash changed since this proposal was made.",
                now=now,
            )
    return count
