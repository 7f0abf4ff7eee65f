"""The app's runtime database role for the tests (created once per cluster, idempotently; the
migrate of the test database grants it its privileges, advisor.security.db_roles)."""

import os

import psycopg
from psycopg import sql

CREATE_ROLE = """
DO $$
BEGIN
    CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$
"""


def server_url(database: str = "postgres", user: str | None = None) -> str:
    """DATABASE_URL pointed at another database (and optionally another user)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(os.environ["DATABASE_URL"])
    netloc = parts.netloc
    if user is not None:
        netloc = f"{user}@{netloc.rsplit('@', 1)[-1]}"
    return urlunsplit((parts.scheme, netloc, f"/{database}", "", ""))


def ensure_runtime_role() -> None:
    role = os.environ.get("ADVISOR_DB_APP_ROLE", "")
    if not role:
        return
    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(sql.SQL(CREATE_ROLE).format(role=sql.Identifier(role)))
