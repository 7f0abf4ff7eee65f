"""Holdings fingerprints: a stable hash of each portfolio's open lots (id, quantity) and cash.

A proposal stores the fingerprint of the holdings it was built on; when the fingerprint differs
later, the holdings changed and the proposal must not execute.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from decimal import Decimal

from django.db import connection
from django.db.models import FilteredRelation, Q

from advisor.core.lookups import Ids
from portfolios.models import Portfolio, TaxLot

CENT = Decimal("0.01")
QTY = Decimal("0.00000001")


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
            "SELECT p.id, encode(sha256(convert_to('cash=' || p.cash::text || COALESCE(';' || "  # noqa: S608 - table names only; values are parameters
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
