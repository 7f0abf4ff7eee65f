from typing import Any

from django.db import migrations


def add_schedule(apps: Any, schema_editor: Any) -> None:
    from advisor.core.schedules import ensure_default_schedules

    ensure_default_schedules(apps)  # creates only the entries still missing


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_hash_existing_audit_events"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(add_schedule, migrations.RunPython.noop)]
