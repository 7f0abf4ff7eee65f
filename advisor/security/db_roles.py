"""PostgreSQL roles: the app runs as a role that owns nothing.

The migration role (the one `manage.py migrate` connects as) owns every table. After each
migrate it grants the runtime role (ADVISOR_DB_APP_ROLE) what the app needs: read and write on
the tables, except the audit trail, where it may only SELECT and INSERT. Not owning a table, the
runtime role cannot TRUNCATE it, disable or drop its triggers, ALTER or DROP it; not a superuser,
it cannot set session_replication_role = replica to skip the triggers either.

`sql/create_roles.sql` creates the two roles (run once by a superuser: docker-compose's init
script, .ci/run, the test setup).
"""

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections

logger = logging.getLogger(__name__)

APPEND_ONLY_TABLES = ("accounts_auditevent",)
CREATE_ROLES_SQL = Path(__file__).resolve().parent / "sql" / "create_roles.sql"


def grant_statements(role: str, quote: Any) -> list[str]:
    r = quote(role)
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {r}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {r}",
    ]
    for table in APPEND_ONLY_TABLES:
        t = quote(table)
        statements += [
            f"REVOKE ALL ON {t} FROM {r}",
            f"GRANT SELECT, INSERT ON {t} TO {r}",
        ]
    return statements


def grant_runtime_role(using: str = "default", **kwargs: Any) -> None:
    """post_migrate: give ADVISOR_DB_APP_ROLE its privileges (PostgreSQL only; idempotent)."""
    role = getattr(settings, "ADVISOR_DB_APP_ROLE", "")
    connection = connections[using]
    if not role or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            raise ImproperlyConfigured(
                f"ADVISOR_DB_APP_ROLE={role!r} does not exist in the database; create it "
                f"first ({CREATE_ROLES_SQL.name}, see README 'Database roles')."
            )
        for statement in grant_statements(role, connection.ops.quote_name):
            cursor.execute(statement)
    logger.info("granted the runtime role %s its privileges", role)
