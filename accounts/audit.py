"""The append-only, hash-chained audit trail. Call `record` from services, inside their
transaction, so an event exists exactly when the change it describes was committed.

Every entry stores `prev_hash` (the hash of the entry before it, by id; `GENESIS` for the
first) and `hash = sha256(canonical(content))`, where the content is the entry's action,
actor, household, object, summary, data, creation time and `prev_hash`, and `canonical` is the
encoding below. Appends lock the one `AuditChainHead` row until their transaction commits, so
two writers never chain onto the same predecessor, and the head's `length` and `last_hash`
anchor the end of the chain (`verify` catches an entry deleted from the tail).

Canonical encoding (`canonical`): JSON with object keys sorted by code point, no whitespace,
strings as `json.dumps(ensure_ascii=False)` writes them, numbers as the normalised decimal
(`Decimal(str(x)).normalize()`, so 1.0, 1 and 1E0 agree: PostgreSQL's jsonb keeps numbers as
decimals and hands 1e20 back as an integer), instants as UTC ISO 8601 with microseconds.
"""

import contextvars
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from django.db import connections, models, transaction

from accounts.models import AuditChainHead, AuditEvent, User
from advisor.core import clock

GENESIS = "0" * 64
HEAD_ID = 1

# Set for the length of a web request (auth_events.AuditRequestMiddleware): where the events the
# request records came from ({"session": digest, "ip": address}), added to their data.
request_context: contextvars.ContextVar[Callable[[], dict[str, str]] | None] = (
    contextvars.ContextVar("audit_request_context", default=None)
)


def record(
    action: str,
    *,
    household: User | None,
    actor: User | None = None,
    obj: models.Model | None = None,
    summary: str = "",
    **data: Any,
) -> AuditEvent:
    event = Event(
        action=action,
        household_id=household.pk if household is not None else None,
        actor_id=actor.pk if actor is not None else None,
        obj=obj,
        summary=summary,
        data=data,
    )
    return record_many([event])[0]


@dataclass
class Event:
    """One event for `record_many` (same meaning as `record`'s arguments). The object is `obj`,
    or `object_type` ("app_label.Model") and `object_id` for a row written without an instance."""

    action: str
    household_id: int | None
    obj: models.Model | None = None
    actor_id: int | None = None
    summary: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    object_type: str = ""
    object_id: str = ""


def record_many(events: list[Event]) -> list[AuditEvent]:
    """Append many events in one INSERT (scans writing thousands of proposals per batch)."""
    origin = request_context.get()
    if origin is not None:
        request = origin()
        for e in events:
            e.data = {**e.data, "request": request}
    with transaction.atomic():  # the head stays locked until the caller's transaction commits
        chained = rows(events, now=clock.now())
        return AuditEvent.objects.bulk_create([AuditEvent(**row) for row in chained])


def rows(events: list[Event], *, now: dt.datetime) -> list[dict[str, Any]]:
    """The AuditEvent rows of `events` as {attname: value}, chained onto the current head, for
    a caller that inserts them in bulk itself. It must run inside the transaction that inserts
    them, and insert them in this order (ids ascending) before it commits: the head is locked
    and already advanced past them."""
    out = [
        {
            "action": e.action,
            "household_id": e.household_id,
            "actor_id": e.actor_id,
            "object_type": e.obj._meta.label if e.obj is not None else e.object_type,
            "object_id": str(e.obj.pk) if e.obj is not None else e.object_id,
            "summary": e.summary[:500],
            # As the database will hand it back (orjson is what the bulk writer stores), so the
            # hash covers exactly what is stored.
            "data": orjson.loads(orjson.dumps(e.data, default=str)),
            "created_at": now,
        }
        for e in events
    ]
    if not out:
        return out
    head = _locked_head()
    previous = head.last_hash or GENESIS
    for row in out:
        row["prev_hash"] = previous
        row["hash"] = previous = chain_hash(row)
    head.length += len(out)
    head.last_hash = previous
    head.save(update_fields=["length", "last_hash"])
    return out


def ensure_chain_head(using: str = "default", **kwargs: Any) -> None:
    """Create the chain's head row if missing (post_migrate: after a migrate, a flush or a test
    database built without migrations), so an append costs two queries: lock, advance."""
    if AuditChainHead._meta.db_table not in connections[using].introspection.table_names():
        return  # migrated backwards past the table
    AuditChainHead.objects.using(using).bulk_create(
        [AuditChainHead(pk=HEAD_ID)], ignore_conflicts=True
    )


def _locked_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(pk=HEAD_ID).first()
    if head is None:  # a flushed database (the migration creates it): create it without racing
        AuditChainHead.objects.bulk_create([AuditChainHead(pk=HEAD_ID)], ignore_conflicts=True)
        head = AuditChainHead.objects.select_for_update().get(pk=HEAD_ID)
    return head


# --- The hash ---------------------------------------------------------------------------------

HASHED_FIELDS = (
    "action",
    "actor_id",
    "household_id",
    "object_type",
    "object_id",
    "summary",
    "data",
    "created_at",
    "prev_hash",
)


def chain_hash(row: dict[str, Any]) -> str:
    """sha256 (hex) of the canonical encoding of an entry's content, `prev_hash` included."""
    content = {name: row[name] for name in HASHED_FIELDS}
    return hashlib.sha256(canonical(content).encode()).hexdigest()


def canonical(value: Any) -> str:
    """The canonical JSON text of `value` (see the module docstring)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value)).normalize()
        return "0" if number.is_zero() else format(number)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dt.datetime):
        return json.dumps(value.astimezone(dt.UTC).isoformat(timespec="microseconds"))
    if isinstance(value, list | tuple):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted((str(k), v) for k, v in value.items())
        return (
            "{"
            + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical(v) for k, v in items)
            + "}"
        )
    raise TypeError(f"no canonical encoding for {type(value).__name__}")


# --- Verification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    """The first entry where the chain does not hold (`event_id` None: the end of the chain
    disagrees with the head, or the head itself is gone)."""

    event_id: int | None
    problem: str


@dataclass(frozen=True)
class Verification:
    checked: int
    last_hash: str
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify() -> Verification:
    """Walk the whole chain in id order and check every link, then the head."""
    previous, checked = GENESIS, 0
    for row in _stored_rows():
        checked += 1
        if row["prev_hash"] != previous:
            problem = (
                "its prev_hash does not match the hash of the entry before it "
                "(an entry before it was removed, inserted, reordered or altered)"
            )
            return Verification(checked, previous, Break(row["id"], problem))
        if row["hash"] != chain_hash(row):
            problem = "its content does not match its hash (the entry was altered)"
            return Verification(checked, previous, Break(row["id"], problem))
        previous = row["hash"]
    head = AuditChainHead.objects.filter(pk=HEAD_ID).first()
    length, last = (head.length, head.last_hash or GENESIS) if head else (0, GENESIS)
    if (length, last) != (checked, previous):
        problem = (
            f"the chain holds {checked} entries ending {previous[:12]} but its head records "
            f"{length} ending {last[:12]} (entries removed from or added at the end)"
        )
        return Verification(checked, previous, Break(None, problem))
    return Verification(checked, previous, None)


def _stored_rows() -> Iterator[dict[str, Any]]:
    names = ("id", *HASHED_FIELDS, "hash")
    query = AuditEvent.objects.order_by("id").values_list(*names)
    for values in query.iterator(chunk_size=5000):
        yield dict(zip(names, values, strict=True))
