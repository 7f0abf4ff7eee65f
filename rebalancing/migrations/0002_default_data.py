"""Default data a fresh installation needs: the beat schedules and questionnaire version 1.

Both functions are idempotent and are also called by `seed_demo`, so re-running is harmless.
"""

from django.db import migrations


def create_defaults(apps, schema_editor):
    from accounts.questionnaire import ensure_default_questionnaire
    from advisor.core.schedules import ensure_default_schedules

    ensure_default_schedules(apps)
    ensure_default_questionnaire()


class Migration(migrations.Migration):
    dependencies = [
        ("rebalancing", "0001_initial"),
        ("accounts", "0002_initial"),
        ("portfolios", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
