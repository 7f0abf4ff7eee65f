"""The app's runtime role (ADVISOR_DB_APP_ROLE) owns nothing: connected as it, the audit trail
can be read and appended to, and nothing else: no TRUNCATE, no UPDATE or DELETE, no disabling
or dropping its triggers, no replication-role trick, no backdated event."""

import datetime as dt

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from accounts import audit
from accounts.models import AuditEvent
from tests.db_roles import server_url

# The runtime role is another connection: the rows it must see are committed.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def as_runtime_role() -> psycopg.Connection:
    name = connection.settings_dict["NAME"]
    conn = psycopg.connect(server_url(name, user=settings.ADVISOR_DB_APP_ROLE), autocommit=True)
    yield conn
    conn.close()


@pytest.fixture
def event(user) -> AuditEvent:
    return audit.record("test.event", household=user, actor=user, summary="kept forever")


def _refused(conn: psycopg.Connection, statement: str, params: tuple = ()) -> str:
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(statement, params)
    return str(caught.value)


@pytest.mark.django_db
def test_the_runtime_role_is_no_superuser_and_owns_nothing(as_runtime_role) -> None:
    row = as_runtime_role.execute(
        "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row == (False, False, False)
    owned = as_runtime_role.execute(
        "SELECT count(*) FROM pg_tables WHERE tableowner = current_user"
    ).fetchone()
    assert owned == (0,)


def test_it_reads_and_appends_to_the_audit_trail(as_runtime_role, event, user) -> None:
    assert as_runtime_role.execute(
        "SELECT summary FROM accounts_auditevent WHERE id = %s", (event.pk,)
    ).fetchone() == ("kept forever",)
    as_runtime_role.execute(
        "INSERT INTO accounts_auditevent (action, household_id, actor_id, object_type, object_id,"
        " summary, data, created_at) VALUES ('test.more', %s, %s, '', '', 'appended', '{}', now())",
        (user.pk, user.pk),
    )
    assert AuditEvent.objects.filter(summary="appended").exists()


REFUSED = [
        "TRUNCATE accounts_auditevent",
        "TRUNCATE accounts_auditevent CASCADE",
        "DELETE FROM accounts_auditevent",
        "UPDATE accounts_auditevent SET summary = 'rewritten'",
        "ALTER TABLE accounts_auditevent DISABLE TRIGGER ALL",
        "ALTER TABLE accounts_auditevent DISABLE TRIGGER accounts_auditevent_append_only",
        "DROP TRIGGER accounts_auditevent_append_only ON accounts_auditevent",
        "DROP TABLE accounts_auditevent",
        "SET session_replication_role = replica",
        "CREATE TABLE accounts_auditevent_copy (id int)",
]  # fmt: skip


def test_it_cannot_erase_or_rewrite_the_audit_trail(as_runtime_role, event) -> None:
    for statement in REFUSED:  # one committed event, every attack in turn (one table flush)
        message = _refused(as_runtime_role, statement)
        assert "permission denied" in message or "must be owner" in message, (statement, message)
        assert AuditEvent.objects.filter(pk=event.pk, summary="kept forever").exists(), statement
    assert AuditEvent.objects.count() == 1


def test_the_replica_trick_in_one_transaction_is_refused_too(as_runtime_role, event) -> None:
    with pytest.raises(psycopg.Error), as_runtime_role.transaction():
        as_runtime_role.execute("SET LOCAL session_replication_role = replica")
        as_runtime_role.execute("DELETE FROM accounts_auditevent")
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_a_backdated_event_is_refused(as_runtime_role, user) -> None:
    # The trigger reads the database server's clock, which no suite clock moves.
    with connection.cursor() as cursor:
        cursor.execute("SELECT now()")
        (server_now,) = cursor.fetchone()
    long_ago = server_now - dt.timedelta(days=400)
    message = _refused(
        as_runtime_role,
        "INSERT INTO accounts_auditevent (action, household_id, actor_id, object_type, object_id,"
        " summary, data, created_at) VALUES ('test.forged', %s, %s, '', '', 'forged', '{}', %s)",
        (user.pk, user.pk, long_ago),
    )
    assert "backdated" in message
    assert not AuditEvent.objects.filter(summary="forged").exists()


def test_it_still_runs_the_rest_of_the_app(as_runtime_role, user) -> None:
    """Ordinary tables stay writable: the app works as this role (gunicorn in the multi-worker
    tests connects as it)."""
    as_runtime_role.execute(
        "UPDATE accounts_user SET first_name = 'Runtime' WHERE id = %s", (user.pk,)
    )
    user.refresh_from_db()
    assert user.first_name == "Runtime"
