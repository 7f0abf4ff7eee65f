"""A household's record as CSV: one row per item, its kind in the first column. A cell that a
spreadsheet would read as a formula (starting with = + - @, or a tab or carriage return) is
prefixed with an apostrophe so it stays text."""

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from advisor.console.records import HouseholdRecord

HEADER = [
    "record", "when", "id", "account", "kind", "status", "actor", "security", "side",
    "quantity", "price", "amount", "summary", "details", "prev_hash", "hash",
]  # fmt: skip
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def record_csv(record: HouseholdRecord) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for row in _rows(record):
        writer.writerow([neutralise(row.get(name)) for name in HEADER])
    return out.getvalue()


def _rows(record: HouseholdRecord) -> Iterator[dict[str, Any]]:
    for a in record.assessments:
        yield {
            "record": "risk_profile", "when": a.submitted_at.isoformat(), "id": a.pk,
            "kind": f"questionnaire v{a.questionnaire.version}",
            "summary": f"level {a.risk_level} (cap {a.max_level}); tolerance {a.tolerance_score}, "
            f"capacity {a.capacity_score}",
            "details": json.dumps({
                "recommended": a.recommended_model.name if a.recommended_model else None,
                "accepted": a.accepted_model.name if a.accepted_model else None,
                "acknowledged_more_aggressive": a.acknowledged_more_aggressive,
                "answers": a.answers,
            }),
        }  # fmt: skip
    for p in record.proposals:
        yield {
            "record": "proposal", "when": p.created_at.isoformat(), "id": p.pk,
            "account": p.portfolio.name, "kind": p.kind, "status": p.status,
            "actor": p.decided_by.email if p.decided_by else "", "amount": p.total_value,
            "summary": p.reason,
            "details": json.dumps({
                "rule": p.rule, "prices_as_of": p.prices_as_of.isoformat(),
                "holdings_fingerprint": p.holdings_fingerprint,
                "decided_at": p.decided_at.isoformat() if p.decided_at else None,
                "executed_at": p.executed_at.isoformat() if p.executed_at else None,
                "failure_reason": p.failure_reason, "est_tax": str(p.est_tax),
            }),
        }  # fmt: skip
        for t in p.trades.all():
            yield {
                "record": "proposed_trade", "when": p.created_at.isoformat(), "id": t.pk,
                "account": p.portfolio.name, "status": t.status, "security": t.security.ticker,
                "side": t.side, "quantity": t.quantity, "price": t.price, "amount": t.amount,
                "summary": f"proposal {p.pk}",
            }  # fmt: skip
    for f in record.fills:
        yield {
            "record": "fill", "when": f.trade_date.isoformat(), "id": f.pk,
            "account": f.portfolio.name, "kind": f.kind, "status": f.source,
            "security": f.security.ticker if f.security else "", "side": f.kind,
            "quantity": f.quantity, "price": f.price, "amount": f.amount, "summary": f.note,
        }  # fmt: skip
    for e in record.events:
        yield {
            "record": "audit", "when": e.created_at.isoformat(), "id": e.pk, "kind": e.action,
            "actor": e.actor.email if e.actor else "system", "summary": e.summary,
            "details": json.dumps(e.data, sort_keys=True), "prev_hash": e.prev_hash,
            "hash": e.hash,
        }  # fmt: skip
