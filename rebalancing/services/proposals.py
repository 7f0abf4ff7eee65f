"""Proposal machinery shared by the drift check (rebalance) and the harvest scan (harvest).

Interface (import the module: ``from rebalancing.services import proposals``):

- ``holdings_fingerprint(portfolio_ids) -> {portfolio_id: sha256 hex}``: a stable hash of each
  portfolio's open lots ``(id, quantity)`` and its cash, in ONE query for any number of
  portfolios. A proposal stores the hash of the holdings it was built on; when the hash differs
  later, the holdings changed and the proposal must not execute.
- ``expiry_for(now) -> datetime``: when a proposal created at ``now`` expires
  (``settings.ADVISOR_PROPOSAL_TTL_HOURS``).
- ``prices_too_old(prices_as_of, today) -> bool``: prices older than
  ``settings.ADVISOR_MAX_PRICE_AGE_DAYS`` NYSE sessions (``portfolios.market_calendar``) make a
  proposal stale.
- ``ProposalDraft`` / ``TradeDraft``: plain dataclasses a computation fills in.
- ``write_proposals(drafts, *, kind, scan_run_id=None, retire_others_for=()) -> WriteResult``:
  the bulk writer. Atomic; per (portfolio, kind) it keeps an identical pending proposal (same
  content key: holdings, prices date, rule, trades) instead of writing a duplicate, and
  otherwise supersedes the older pending one and inserts the new Proposal + ProposedTrades. The
  partial unique constraint ``proposal_one_pending_per_kind`` is the last guard; portfolio rows
  are locked (in id order) so two concurrent writers serialise per portfolio.
- ``is_stale(proposal, *, now=None) -> str | None``: the reason a pending proposal may no longer
  be acted on (too old, prices too old, holdings changed, prices moved), or None. Call it inside
  the approval transaction after locking the proposal.
- ``expire_stale_proposals(*, now=None) -> int``: set-based sweep that marks every stale pending
  proposal expired (the Celery task ``rebalancing.tasks.expire_stale_proposals`` wraps it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import FilteredRelation, Model, Q
from psycopg.types.json import Jsonb

from accounts import audit
from accounts.models import AuditEvent
from advisor.core import clock
from advisor.lookups import Ids
from portfolios import market_calendar, selectors
from portfolios.models import Portfolio, TaxLot
from rebalancing.models import Proposal, ProposedTrade

CENT = Decimal("0.01")
QTY = Decimal("0.00000001")
PRICE_Q = Decimal("0.000001")
# A pending proposal whose traded securities moved more than this (fraction) since it was built
# is stale: its trade sizes no longer reach the target.
DEFAULT_MAX_PRICE_MOVE = 0.05


# --- fingerprints and freshness ------------------------------------------------------------


def _fingerprint(cash: Decimal, lots: list[tuple[int, Decimal]]) -> str:
    parts = [f"cash={Decimal(cash).quantize(CENT):f}"]
    parts += [f"{lot_id}:{Decimal(qty).quantize(QTY):f}" for lot_id, qty in sorted(lots)]
    return hashlib.sha256(";".join(parts).encode()).hexdigest()


def fingerprint_of(cash: Decimal | str, lots: Iterable[tuple[int, Decimal | str]]) -> str:
    """The fingerprint of holdings already loaded (cash, [(open lot id, quantity)]); quantities
    may be Decimal or their text. Equal to `holdings_fingerprint` for the same rows."""
    return _fingerprint(Decimal(cash), [(int(i), Decimal(q)) for i, q in lots])


def holdings_fingerprint(portfolio_ids: Iterable[int]) -> dict[int, str]:
    """sha256 hex of each portfolio's cash and open lots (id, quantity), in one query.

    Portfolios that do not exist are absent from the result. Closed lots (quantity 0) do not
    count, so closing an already-empty lot does not change the hash. On PostgreSQL the hash is
    computed in the database (the text of numeric(20,8) / numeric(18,2) is the quantized
    form `_fingerprint` hashes), so a scan fingerprinting thousands of portfolios moves 64
    characters per portfolio instead of every lot.
    """
    ids = list(set(portfolio_ids))
    if not ids:
        return {}
    if connection.vendor == "postgresql":
        sql = (
            "SELECT p.id, encode(sha256(convert_to('cash=' || p.cash::text || COALESCE(';' || "  # noqa: S608 - table and column names only; values are parameters
            "string_agg(l.id || ':' || l.quantity::text, ';' ORDER BY l.id), ''), 'UTF8')), 'hex') "
            f"FROM {Portfolio._meta.db_table} p LEFT JOIN {TaxLot._meta.db_table} l "
            "ON l.portfolio_id = p.id AND l.quantity > 0 "
            "WHERE p.id = ANY(%s::bigint[]) GROUP BY p.id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, ["{" + Ids(ids).text + "}"])
            return dict(cursor.fetchall())
    rows = (
        Portfolio.objects.filter(pk__any=Ids(ids))
        .annotate(open_lots=FilteredRelation("lots", condition=Q(lots__quantity__gt=0)))
        .values_list("id", "cash", "open_lots__id", "open_lots__quantity")
    )
    cash: dict[int, Decimal] = {}
    lots: dict[int, list[tuple[int, Decimal]]] = {}
    for pid, pcash, lot_id, qty in rows:
        cash[pid] = pcash
        bucket = lots.setdefault(pid, [])
        if lot_id is not None:
            bucket.append((lot_id, qty))
    return {pid: _fingerprint(cash[pid], lots[pid]) for pid in cash}


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
            f"Expired: built on prices of {proposal.prices_as_of:%Y-%m-%d}, more than "
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


# --- drafts and the bulk writer ------------------------------------------------------------


def money(value: float) -> Decimal:
    """A computed amount (float) as Decimal cents, for a draft."""
    return Decimal(f"{value:.2f}")


def weights(codes: tuple[str, ...], row: Iterable[float]) -> dict[str, float]:
    """{class code: weight} of one portfolio's row, rounded, without the (near-)zero ones."""
    return {code: round(w, 6) for code, w in zip(codes, row, strict=True) if abs(w) > 5e-7}


@dataclass
class TradeDraft:
    """One proposed order. Money and quantities as Decimal (already quantized by the caller or
    quantized here: quantity 8 places, price 6, amounts 2). `lots` is
    ``[{"lot": id, "quantity": "1.5"}, ...]`` for a sell. `sequence`: sells before buys."""

    security_id: int
    side: str  # ProposedTrade.Side value: "buy" | "sell"
    quantity: Decimal
    price: Decimal
    amount: Decimal | None = None
    lots: list[dict[str, Any]] = field(default_factory=list)
    est_short_term_gain: Decimal = Decimal("0")
    est_long_term_gain: Decimal = Decimal("0")
    est_cost: Decimal = Decimal("0")
    sequence: int = 0


@dataclass
class ProposalDraft:
    """A proposal to write. `holdings_fingerprint` must be the fingerprint of the holdings the
    computation read (take it from `holdings_fingerprint` in the same batch)."""

    portfolio_id: int
    rule: str
    reason: str
    prices_as_of: dt.date
    holdings_fingerprint: str
    trades: list[TradeDraft]
    before_weights: dict[str, float] = field(default_factory=dict)
    after_weights: dict[str, float] = field(default_factory=dict)
    target_weights: dict[str, float] = field(default_factory=dict)
    drift: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    total_value: Decimal = Decimal("0")
    est_short_term_gain: Decimal = Decimal("0")
    est_long_term_gain: Decimal = Decimal("0")
    est_tax: Decimal = Decimal("0")
    est_cost: Decimal = Decimal("0")
    auto_approved: bool = False

    def content_key(self, kind: str) -> str:
        """Identity of what is proposed: same holdings, prices date, rule and trades -> same key."""
        trades = sorted(
            (t.security_id, t.side, str(Decimal(t.quantity).quantize(QTY))) for t in self.trades
        )
        payload = json.dumps(
            [
                kind,
                self.portfolio_id,
                self.holdings_fingerprint,
                self.prices_as_of.isoformat(),
                self.rule,
                trades,
            ]
        )
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class Created:
    """A proposal the writer inserted."""

    pk: int
    portfolio_id: int


@dataclass
class WriteResult:
    created: list[Created] = field(default_factory=list)
    kept: list[int] = field(
        default_factory=list
    )  # portfolio ids whose identical pending proposal was kept
    superseded: int = 0
    retired: int = 0


def _q(value: Decimal | float | int, quantum: Decimal) -> Decimal:
    return (value if isinstance(value, Decimal) else Decimal(str(value))).quantize(quantum)


def _json_bytes(value: Any) -> bytes:
    # orjson: several times faster than json.dumps for the thousands of JSON values a scan
    # batch writes; `default=str` keeps a stray Decimal or date readable instead of failing.
    return orjson.dumps(value, default=str)


def _jsonb(value: Any) -> Jsonb:
    return Jsonb(value, dumps=_json_bytes)


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
    it no longer reflects the account. One audit event per created proposal.

    Constant number of queries regardless of len(drafts): find pending; when anything changes,
    lock those portfolios, read their pending proposals under the lock, supersede, retire,
    insert proposals, trades and audit events.
    """
    now = now or clock.now()
    drafts = list(drafts)
    by_portfolio = {d.portfolio_id: d for d in drafts}
    if len(by_portfolio) != len(drafts):
        raise ValueError("At most one draft per portfolio.")
    retire = set(retire_others_for) - set(by_portfolio)
    all_ids = sorted(set(by_portfolio) | retire)
    result = WriteResult()
    if not all_ids:
        return result

    # The pending proposals of the id range (the query does not grow with the batch), by
    # their content key, read from the JSON in the database. A draft identical to the one
    # waiting is kept without a lock (a re-run writes nothing); only portfolios with something
    # to write or retire are locked and read again under the lock.
    wanted = set(all_ids)
    keys = {pid: d.content_key(kind) for pid, d in by_portfolio.items()}
    pending_keys = {
        pid: key
        for pid, key in Proposal.objects.filter(
            portfolio_id__gte=all_ids[0],
            portfolio_id__lte=all_ids[-1],
            kind=kind,
            status=Proposal.Status.PENDING,
        ).values_list("portfolio_id", "details__content_key")
        if pid in wanted
    }
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
        # Lock the portfolio rows in id order: concurrent writers serialise per portfolio and
        # cannot deadlock; under the lock, read the pending proposals again (a concurrent
        # writer may have committed one since the read above).
        owners = dict(
            Portfolio.objects.select_for_update()
            .filter(pk__any=Ids(relevant))
            .order_by("pk")
            .values_list("pk", "owner_id")
        )
        pending = {
            pid: (pk, key)
            for pk, pid, key in Proposal.objects.filter(
                portfolio_id__any=Ids(relevant), kind=kind, status=Proposal.Status.PENDING
            ).values_list("id", "portfolio_id", "details__content_key")
        }
        to_write: list[ProposalDraft] = []
        supersede: list[int] = []
        for pid in relevant:
            if pid not in by_portfolio:
                continue  # to retire
            if pid not in owners:
                continue  # deleted since it was read
            old_pk, old_key = pending.get(pid, (None, None))
            if old_key == keys[pid]:
                result.kept.append(pid)
                continue
            if old_pk is not None:
                supersede.append(old_pk)
            to_write.append(by_portfolio[pid])
        retire_ids = [pending[pid][0] for pid in retire if pid in pending]
        if supersede:
            result.superseded = Proposal.objects.filter(
                pk__any=Ids(supersede), status=Proposal.Status.PENDING
            ).update(
                status=Proposal.Status.SUPERSEDED,
                decided_at=now,
                decision_note="Superseded by a newer check.",
            )
        if retire_ids:
            result.retired = Proposal.objects.filter(
                pk__any=Ids(retire_ids), status=Proposal.Status.PENDING
            ).update(
                status=Proposal.Status.EXPIRED,
                decided_at=now,
                decision_note="No longer needed: the latest check found the account within its policy.",
            )
        if not to_write:
            return result

        expires = expiry_for(now)
        rows = [
            {
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
                "details": {**d.details, "content_key": keys[d.portfolio_id]},
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
            for d in to_write
        ]
        _insert_with_ids(Proposal, rows)
        kind_label = Proposal.Kind(kind).label
        pk_by_portfolio = {row["portfolio_id"]: row["id"] for row in rows}
        trades: list[dict[str, Any]] = []
        for d in to_write:
            proposal_id = pk_by_portfolio[d.portfolio_id]
            for i, t in enumerate(d.trades):
                quantity = _q(t.quantity, QTY)
                price = _q(t.price, PRICE_Q)
                amount = _q(t.amount if t.amount is not None else quantity * price, CENT)
                trades.append(
                    {
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
                )
        _insert_values(ProposedTrade, trades)
        trade_counts: dict[int, int] = {}  # per proposal, in one pass (not per proposal x trade)
        for t in trades:
            trade_counts[t["proposal_id"]] = trade_counts.get(t["proposal_id"], 0) + 1
        _insert_values(
            AuditEvent,
            audit.rows(
                [
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
                            "scan_run": scan_run_id,
                        },
                    )
                    for p in rows
                ],
                now=now,
            ),
        )
        result.created = [Created(row["id"], row["portfolio_id"]) for row in rows]
    return result


def _insert_with_ids(model: type[Model], rows: list[dict[str, Any]]) -> None:
    """INSERT rows given as {attname: value} and set each row's "id" (drawn from the table's
    sequence in one query on PostgreSQL, then one COPY)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        for row, instance in zip(
            rows, model.objects.bulk_create([model(**row) for row in rows]), strict=True
        ):
            row["id"] = instance.pk
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [model._meta.db_table, len(rows)],
        )
        for row, (pk,) in zip(rows, cursor.fetchall(), strict=True):
            row["id"] = pk
    _insert_values(model, rows, with_id=True)


def _insert_values(
    model: type[Model], rows: list[dict[str, Any]], *, with_id: bool = False
) -> None:
    """INSERT rows given as {attname: value} (unnamed fields take their defaults; the id comes
    from the table's identity unless `with_id`) without building model instances: COPY on
    PostgreSQL."""
    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if with_id or not f.primary_key]
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**row) for row in rows])
        return
    defaults = [(f.attname, f.get_default()) for f in fields]
    json_columns = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            values = [row.get(name, default) for name, default in defaults]
            for i in json_columns:
                values[i] = _jsonb(values[i])
            copy.write_row(values)


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
    pending = Proposal.objects.filter(status=Proposal.Status.PENDING)
    count = pending.filter(expires_at__lte=now).update(
        status=Proposal.Status.EXPIRED,
        decided_at=now,
        decision_note=f"Expired: older than {settings.ADVISOR_PROPOSAL_TTL_HOURS} hours.",
    )
    dates = set(pending.values_list("prices_as_of", flat=True).distinct())
    old_dates = [d for d in dates if prices_too_old(d, today)]
    if old_dates:
        count += pending.filter(prices_as_of__in=old_dates).update(
            status=Proposal.Status.EXPIRED,
            decided_at=now,
            decision_note=f"Expired: built on prices more than {settings.ADVISOR_MAX_PRICE_AGE_DAYS} trading days old.",
        )
    rows = list(pending.order_by("pk").values_list("pk", "portfolio_id", "holdings_fingerprint"))
    for start in range(0, len(rows), EXPIRE_CHUNK):
        chunk = rows[start : start + EXPIRE_CHUNK]
        current = holdings_fingerprint(pid for _, pid, _ in chunk)
        changed = [pk for pk, pid, fp in chunk if current.get(pid) != fp]
        if changed:
            count += Proposal.objects.filter(
                pk__any=Ids(changed), status=Proposal.Status.PENDING
            ).update(
                status=Proposal.Status.EXPIRED,
                decided_at=now,
                decision_note="Expired: the account's holdings or cash changed since this proposal was made.",
            )
    return count
