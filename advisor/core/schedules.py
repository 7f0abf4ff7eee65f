"""Default periodic tasks for django-celery-beat's database scheduler.

Created once (by a data migration and by `seed_demo`); staff edit them in the admin afterwards,
so an existing entry is never overwritten. Each entry expires before its next run so a backlog
after downtime does not pile up duplicate scans.
"""

from typing import Any

DEFAULT_SCHEDULES: list[dict[str, Any]] = [
    {
        "name": "Refresh daily prices",
        "task": "portfolios.tasks.refresh_prices",
        "crontab": {"minute": "15", "hour": "17", "day_of_week": "1-5"},
        "expire_seconds": 6 * 3600,
    },
    {
        "name": "Drift check (all portfolios)",
        "task": "rebalancing.tasks.run_drift_scan",
        "crontab": {"minute": "45", "hour": "17", "day_of_week": "1-5"},
        "expire_seconds": 6 * 3600,
    },
    {
        "name": "Tax-loss harvest scan (all households)",
        "task": "rebalancing.tasks.run_harvest_scan",
        "crontab": {"minute": "15", "hour": "18", "day_of_week": "1-5"},
        "expire_seconds": 6 * 3600,
    },
    {
        # Each due session's contribution is deposited once (a ledger key per schedule and
        # date) and a proposal invests it; a run missed after downtime catches up.
        "name": "Scheduled contributions",
        "task": "rebalancing.tasks.run_contributions",
        "crontab": {"minute": "40", "hour": "9", "day_of_week": "1-5"},
        "expire_seconds": 6 * 3600,
    },
    {
        "name": "Drawdown alerts (all households)",
        "task": "rebalancing.tasks.check_drawdowns",
        "crontab": {"minute": "30", "hour": "18", "day_of_week": "1-5"},
        "expire_seconds": 6 * 3600,
    },
    {
        "name": "Expire stale proposals",
        "task": "rebalancing.tasks.expire_stale_proposals",
        "crontab": {"minute": "5", "hour": "*", "day_of_week": "*"},
        "expire_seconds": 1800,
    },
    {
        # Work recorded in the database but not done (the broker was down, or a worker was
        # killed whole): executions, notifications, scan batches. See services/sweeper.py.
        "name": "Re-send unfinished work",
        "task": "rebalancing.tasks.sweep",
        "crontab": {"minute": "*", "hour": "*", "day_of_week": "*"},
        "expire_seconds": 50,
    },
    {
        # Mails staff when the audit trail's hash chain no longer verifies.
        "name": "Verify the audit trail",
        "task": "advisor.tasks.check_audit_chain",
        "crontab": {"minute": "30", "hour": "3", "day_of_week": "*"},
        "expire_seconds": 6 * 3600,
    },
]


def ensure_default_schedules(apps: Any = None, timezone_name: str | None = None) -> int:
    """Create the missing default entries; returns how many were created."""
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    if timezone_name is None:
        from django.conf import settings

        timezone_name = settings.TIME_ZONE
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    created = 0
    for entry in DEFAULT_SCHEDULES:
        if PeriodicTask.objects.filter(name=entry["name"]).exists():
            continue
        crontab, _ = CrontabSchedule.objects.get_or_create(
            **entry["crontab"], day_of_month="*", month_of_year="*", timezone=timezone_name
        )
        PeriodicTask.objects.create(
            name=entry["name"],
            task=entry["task"],
            crontab=crontab,
            expire_seconds=entry["expire_seconds"],
            enabled=True,
        )
        created += 1
    return created
