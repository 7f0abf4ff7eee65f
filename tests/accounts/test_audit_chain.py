"""The audit trail's hash chain: the canonical encoding, the verifier against tamperings done
as the table's owner in raw SQL (the append-only trigger switched off first, as only an owner or
superuser can), the daily check's alert, and writers in parallel never forking the chain."""

import datetime as dt
import importlib
import itertools
import json
import threading
from collections.abc import Callable

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction

from accounts import audit, services
from accounts.models import AuditChainHead, AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _raw(sql: str, params: list | tuple = ()) -> None:
    """Run SQL as the owner with the append-only trigger bypassed, as a tamperer with the
    database's keys would (session_replication_role needs the owner or a superuser)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET LOCAL session_replication_role = origin")


@pytest.fixture
def chain(user, other_user) -> list[int]:
    ids = []
    for n in range(6):
        event = audit.record(
            f"test.step{n}",
            household=user if n % 2 else other_user,
            actor=user,
            summary=f"step {n}",
            amount=n * 1.5,
            nested={"b": [1, 2.0, None], "a": "x"},
        )
        ids.append(event.pk)
    return ids


def test_the_canonical_encoding_is_fixed() -> None:
    value = {"b": [1, 1.0, 1e20, 0.1], "a": "é", "c": None, "d": True}
    assert audit.canonical(value) == '{"a":"é","b":[1,1,1E+20,0.1],"c":null,"d":true}'
    instant = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert audit.canonical(instant) == '"2026-03-01T14:30:00.000000+00:00"'


def test_a_fresh_chain_verifies_and_links_every_entry(chain) -> None:
    rows = list(AuditEvent.objects.order_by("id").values("prev_hash", "hash"))
    assert rows[0]["prev_hash"] == audit.GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(rows))
    result = audit.verify()
    assert result.ok and result.checked == 6
    assert AuditChainHead.objects.get().length == 6
    call_command("verify_audit_log")  # no error


def test_the_stored_content_hashes_to_the_stored_hash_after_a_database_round_trip(user) -> None:
    event = audit.record("test.numbers", household=user, big=1e20, tiny=1.5e-7, one=1.0)
    stored = AuditEvent.objects.values(*audit.HASHED_FIELDS, "hash").get(pk=event.pk)
    assert stored["data"]["big"] == 10**20  # jsonb hands it back as an integer
    assert audit.chain_hash(stored) == stored["hash"]


def _swap_ids(ids: list[int]) -> None:
    _raw("UPDATE accounts_auditevent SET id = -1 WHERE id = %s", [ids[2]])
    _raw("UPDATE accounts_auditevent SET id = %s WHERE id = %s", [ids[2], ids[3]])
    _raw("UPDATE accounts_auditevent SET id = %s WHERE id = -1", [ids[3]])


def _forge_with_own_hash(ids: list[int]) -> None:
    """Alter an entry and recompute its own hash (but not those after it)."""
    _raw("UPDATE accounts_auditevent SET summary = 'forged' WHERE id = %s", [ids[2]])
    row = AuditEvent.objects.values(*audit.HASHED_FIELDS).get(pk=ids[2])
    _raw("UPDATE accounts_auditevent SET hash = %s WHERE id = %s", [audit.chain_hash(row), ids[2]])


def _rehash_everything_but_the_head(ids: list[int]) -> None:
    _raw("UPDATE accounts_auditevent SET summary = 'forged' WHERE id = %s", [ids[1]])
    previous = audit.GENESIS
    for pk in ids:
        row = AuditEvent.objects.values(*audit.HASHED_FIELDS).get(pk=pk)
        row["prev_hash"] = previous
        previous = audit.chain_hash(row)
        _raw(
            "UPDATE accounts_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
            [row["prev_hash"], previous, pk],
        )


def _insert(ids: list[int], *, pk: int, prev: str = "", digest: str = "") -> None:
    _raw(
        "INSERT INTO accounts_auditevent (id, action, object_type, object_id, summary, data,"
        " created_at, prev_hash, hash) VALUES (%s, 'test.forged', '', '', 'forged', '{}',"
        " now(), %s, %s)",
        [pk, prev, digest],
    )


def _insert_correctly_hashed_at_the_end(ids: list[int]) -> None:
    last = AuditEvent.objects.get(pk=ids[-1]).hash
    row = {
        "action": "test.forged", "actor_id": None, "household_id": None, "object_type": "",
        "object_id": "", "summary": "forged", "data": {}, "prev_hash": last,
        "created_at": AuditEvent.objects.get(pk=ids[-1]).created_at,
    }  # fmt: skip
    _raw(
        "INSERT INTO accounts_auditevent (id, action, object_type, object_id, summary, data,"
        " created_at, prev_hash, hash) VALUES (%s, 'test.forged', '', '', 'forged', '{}', %s,"
        " %s, %s)",
        [ids[-1] + 100, row["created_at"], last, audit.chain_hash(row)],
    )


def _sql(statement: str, index: int | None = None) -> Callable[[list[int]], None]:
    return lambda ids: _raw(statement, [ids[index]] if index is not None else [])


def _truncate(ids: list[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE waits for no deferred check
    _raw("TRUNCATE accounts_auditevent")


def _insert_in_the_middle(ids: list[int]) -> None:
    # Make room: move the last three entries up, then put the forged one in the gap.
    for pk in reversed(ids[3:]):
        _raw("UPDATE accounts_auditevent SET id = id + 10 WHERE id = %s", [pk])
    _insert(ids, pk=ids[3], prev=AuditEvent.objects.get(pk=ids[2]).hash, digest="f" * 64)


FORGED = -1  # the forged entry is the first that does not hold
# (tampering, index in the chain fixture of the first broken entry; None: the end of the chain
# disagrees with its head; FORGED: the entry the tampering inserted)
TAMPERINGS: dict[str, tuple[Callable[[list[int]], None], int | None]] = {
    "summary altered": (_sql("UPDATE accounts_auditevent SET summary = 'x' WHERE id = %s", 2), 2),
    "summary altered by one space": (
        _sql("UPDATE accounts_auditevent SET summary = summary || ' ' WHERE id = %s", 3), 3),
    "action altered": (_sql("UPDATE accounts_auditevent SET action = 'x' WHERE id = %s", 1), 1),
    "data altered": (_sql(
        "UPDATE accounts_auditevent SET data = jsonb_set(data, '{amount}', '99') WHERE id = %s",
        4), 4),
    "data key added": (_sql(
        "UPDATE accounts_auditevent SET data = data || '{\"extra\": 1}' WHERE id = %s", 2), 2),
    "actor changed": (_sql("UPDATE accounts_auditevent SET actor_id = NULL WHERE id = %s", 2), 2),
    "household changed": (_sql(
        "UPDATE accounts_auditevent SET household_id = actor_id WHERE id = %s", 2), 2),
    "backdated": (_sql(
        "UPDATE accounts_auditevent SET created_at = created_at - interval '1 day' WHERE id = %s",
        3), 3),
    "object id changed": (_sql("UPDATE accounts_auditevent SET object_id = '7' WHERE id = %s", 0), 0),
    "hash replaced": (_sql(
        "UPDATE accounts_auditevent SET hash = repeat('a', 64) WHERE id = %s", 2), 2),
    "hash blanked on the last": (_sql("UPDATE accounts_auditevent SET hash = '' WHERE id = %s", 5), 5),
    "prev_hash replaced": (_sql(
        "UPDATE accounts_auditevent SET prev_hash = repeat('b', 64) WHERE id = %s", 3), 3),
    "first entry's prev_hash not genesis": (_sql(
        "UPDATE accounts_auditevent SET prev_hash = repeat('1', 64) WHERE id = %s", 0), 0),
    "altered and its own hash recomputed": (_forge_with_own_hash, 3),
    "whole chain re-hashed, head left": (_rehash_everything_but_the_head, None),
    "first deleted": (_sql("DELETE FROM accounts_auditevent WHERE id = %s", 0), 1),
    "middle deleted": (_sql("DELETE FROM accounts_auditevent WHERE id = %s", 3), 4),
    "last deleted": (_sql("DELETE FROM accounts_auditevent WHERE id = %s", 5), None),
    "all deleted": (_sql("DELETE FROM accounts_auditevent"), None),
    "truncated": (_truncate, None),
    "inserted at the end without a hash": (lambda ids: _insert(ids, pk=ids[-1] + 50), FORGED),
    "inserted at the end, correctly hashed": (_insert_correctly_hashed_at_the_end, None),
    "inserted before the first": (lambda ids: _insert(ids, pk=ids[0] - 1), FORGED),
    "inserted in the middle": (_insert_in_the_middle, FORGED),
    "reordered (two ids swapped)": (_swap_ids, 2),
    "summaries of two entries swapped": (lambda ids: (
        _raw("UPDATE accounts_auditevent SET summary = 'step 3' WHERE id = %s", [ids[2]]),
        _raw("UPDATE accounts_auditevent SET summary = 'step 2' WHERE id = %s", [ids[3]])), 2),
    "head length changed": (_sql("UPDATE accounts_auditchainhead SET length = length - 1"), None),
    "head removed": (_sql("DELETE FROM accounts_auditchainhead"), None),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(TAMPERINGS))
def test_every_tampering_is_detected_and_the_first_broken_entry_named(name, chain) -> None:
    tamper, broken_index = TAMPERINGS[name]
    assert audit.verify().ok
    tamper(chain)
    result = audit.verify()
    assert not result.ok, name
    if broken_index == FORGED:
        expected = AuditEvent.objects.get(action="test.forged").pk
    else:
        expected = chain[broken_index] if broken_index is not None else None
    assert result.broken.event_id == expected, (name, result.broken)
    with pytest.raises(CommandError, match="BROKEN"):
        call_command("verify_audit_log")


def test_update_and_delete_are_refused_in_raw_sql_without_the_bypass(chain) -> None:
    for statement in (
        "UPDATE accounts_auditevent SET summary = 'x'",
        "DELETE FROM accounts_auditevent",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
    assert audit.verify().ok


def test_the_daily_check_mails_staff_and_records_the_break(chain, settings) -> None:
    UserFactory(email="boss@example.com", is_staff=True, is_superuser=True)
    assert services.check_audit_chain().ok and mail.outbox == []
    _raw("UPDATE accounts_auditevent SET summary = 'forged' WHERE id = %s", [chain[2]])
    result = services.check_audit_chain()
    assert not result.ok
    (message,) = mail.outbox
    assert message.to == ["boss@example.com"]
    assert f"First broken entry: #{chain[2]}" in message.body
    event = AuditEvent.objects.get(action="audit.chain_broken")
    assert event.data["first_broken_id"] == chain[2]
    settings.ADVISOR_AUDIT_ALERT_EMAILS = ["security@example.com"]
    services.check_audit_chain()
    assert mail.outbox[-1].to == ["security@example.com"]


@pytest.mark.django_db(transaction=True)
def test_writers_in_parallel_never_fork_the_chain() -> None:
    household = UserFactory(email="busy@example.com")
    writers, per_writer = 8, 15
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_writer):
                with transaction.atomic():
                    if i % 3:
                        audit.record("test.parallel", household=household, writer=n, i=i)
                    else:
                        audit.record_many(
                            [audit.Event("test.bulk", household.pk, data={"w": n})] * 2
                        )
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    expected = writers * (per_writer + per_writer // 3)
    assert AuditEvent.objects.count() == expected
    prev_hashes = list(AuditEvent.objects.values_list("prev_hash", flat=True))
    assert len(set(prev_hashes)) == len(prev_hashes)  # no two entries share a predecessor
    result = audit.verify()
    assert result.ok and result.checked == expected


def test_the_migration_chains_events_written_before_the_chain_in_id_order(user) -> None:
    from django.apps import apps

    migration = importlib.import_module("accounts.migrations.0005_hash_existing_audit_events")
    for n in range(3):  # as the app wrote them before: no hashes, no head
        _raw(
            "INSERT INTO accounts_auditevent (action, household_id, actor_id, object_type,"
            " object_id, summary, data, created_at) VALUES (%s, %s, %s, '', '', 'old', %s, now())",
            [f"test.old{n}", user.pk, user.pk, json.dumps({"n": n, "x": 1.5})],
        )
    _raw("DELETE FROM accounts_auditchainhead")
    assert not audit.verify().ok
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks before ALTER TABLE
    with connection.schema_editor() as editor:
        migration.chain_existing_events(apps, editor)
    result = audit.verify()
    assert result.ok and result.checked == 3
    audit.record("test.new", household=user)  # appends onto the migrated chain
    assert audit.verify().ok
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.update(summary="x")  # the guard is back on
