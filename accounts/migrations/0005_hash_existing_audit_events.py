"""Chain the audit events written before the hash chain existed, in id order, and record the
head. The append-only trigger refuses UPDATE, so it is switched off for this transaction only
(migrations run as the tables' owner)."""

from typing import Any

from django.db import migrations

FIELDS = (
    "id",
    "action",
    "actor_id",
    "household_id",
    "object_type",
    "object_id",
    "summary",
    "data",
    "created_at",
)


def chain_existing_events(apps: Any, schema_editor: Any) -> None:
    from accounts.audit import GENESIS, HEAD_ID, chain_hash

    AuditEvent = apps.get_model("accounts", "AuditEvent")
    AuditChainHead = apps.get_model("accounts", "AuditChainHead")
    connection = schema_editor.connection
    table = "accounts_auditevent"
    guard = "accounts_auditevent_append_only" if connection.vendor == "postgresql" else None
    if guard and _has_trigger(connection, guard):
        schema_editor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {guard}")
    elif connection.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS accounts_auditevent_no_update")
    previous, length = GENESIS, 0
    with connection.cursor() as cursor:
        for values in AuditEvent.objects.order_by("id").values_list(*FIELDS).iterator():
            row = dict(zip(FIELDS, values, strict=True))
            row["prev_hash"] = previous
            previous = chain_hash(row)
            cursor.execute(
                f"UPDATE {table} SET prev_hash = %s, hash = %s WHERE id = %s",  # noqa: S608
                [row["prev_hash"], previous, row["id"]],
            )
            length += 1
    if guard and _has_trigger(connection, guard):
        schema_editor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {guard}")
    # (SQLite's guard comes back with post_migrate, which reinstalls it after every migrate.)
    AuditChainHead.objects.update_or_create(
        pk=HEAD_ID, defaults={"length": length, "last_hash": previous if length else ""}
    )


def _has_trigger(connection: Any, name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_trigger WHERE tgname = %s", [name])
        return cursor.fetchone() is not None


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_audit_hash_chain_and_reviews")]

    operations = [migrations.RunPython(chain_existing_events, migrations.RunPython.noop)]
