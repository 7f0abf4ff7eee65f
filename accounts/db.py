"""Database-level guard that keeps the audit trail append-only, whatever code runs the SQL.

Installed after every `migrate` (post_migrate), idempotently, on PostgreSQL and SQLite.
"""

from typing import Any

from django.conf import settings
from django.db import connections

POSTGRESQL = [
    """
    CREATE OR REPLACE FUNCTION accounts_auditevent_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'accounts_auditevent is append-only: % refused', TG_OP;
    END;
    $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS accounts_auditevent_append_only ON accounts_auditevent",
    """
    CREATE TRIGGER accounts_auditevent_append_only
    BEFORE UPDATE OR DELETE ON accounts_auditevent
    FOR EACH ROW EXECUTE FUNCTION accounts_auditevent_append_only()
    """,
    # The app's runtime role may not write an event dated in the past (a forged history); the
    # table's owner (migrations, tests that travel in time) and superusers may. The tolerance
    # (ADVISOR_AUDIT_CLOCK_TOLERANCE_MINUTES) allows for the app's clock running behind the
    # database server's.
    """
    CREATE OR REPLACE FUNCTION accounts_auditevent_not_backdated() RETURNS trigger AS $$
    BEGIN
        IF NEW.created_at < now() - interval '{tolerance} minutes'
           AND NOT pg_has_role(current_user,
                               (SELECT tableowner FROM pg_tables
                                WHERE schemaname = current_schema()
                                  AND tablename = 'accounts_auditevent'), 'MEMBER')
           AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
            RAISE EXCEPTION 'accounts_auditevent: an event dated % is refused (backdated)',
                NEW.created_at;
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS accounts_auditevent_not_backdated ON accounts_auditevent",
    """
    CREATE TRIGGER accounts_auditevent_not_backdated
    BEFORE INSERT ON accounts_auditevent
    FOR EACH ROW EXECUTE FUNCTION accounts_auditevent_not_backdated()
    """,
]
SQLITE = [
    "DROP TRIGGER IF EXISTS accounts_auditevent_no_update",
    "DROP TRIGGER IF EXISTS accounts_auditevent_no_delete",
    """CREATE TRIGGER accounts_auditevent_no_update BEFORE UPDATE ON accounts_auditevent
       BEGIN SELECT RAISE(ABORT, 'accounts_auditevent is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER accounts_auditevent_no_delete BEFORE DELETE ON accounts_auditevent
       BEGIN SELECT RAISE(ABORT, 'accounts_auditevent is append-only: DELETE refused'); END""",
]


def install_audit_guard(using: str = "default", **kwargs: Any) -> None:
    connection = connections[using]
    if "accounts_auditevent" not in connection.introspection.table_names():
        return
    statements = (
        POSTGRESQL
        if connection.vendor == "postgresql"
        else SQLITE
        if connection.vendor == "sqlite"
        else []
    )
    tolerance = int(settings.ADVISOR_AUDIT_CLOCK_TOLERANCE_MINUTES)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement.replace("{tolerance}", str(tolerance)))
