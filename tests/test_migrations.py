"""The migrations build a working database from nothing (the rest of the suite uses --nomigrations)."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def empty_database() -> str:
    db = settings.DATABASES["default"]
    name = f"{db['NAME']}_migrations_{os.getpid()}"
    params = {
        "host": db.get("HOST") or "127.0.0.1",
        "port": db.get("PORT") or 5432,
        "user": db.get("USER") or "postgres",
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgres://{params['user']}@{params['host']}:{params['port']}/{name}"
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrate_then_seed_and_scan_on_a_fresh_postgresql_database(empty_database: str) -> None:
    env = dict(os.environ, DATABASE_URL=empty_database)

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    manage("migrate", "--noinput")
    check = (
        "from django_celery_beat.models import PeriodicTask; from accounts.models import Questionnaire; "
        "print(PeriodicTask.objects.count(), Questionnaire.objects.count())"
    )
    tasks, questionnaires = manage("shell", "-c", check).strip().splitlines()[-1].split()
    assert int(tasks) >= 4 and int(questionnaires) == 1  # the default-data migration ran
    manage("seed_demo")
    assert "proposed: 3" in manage("drift_check")
    assert "1 harvest proposals" in manage("harvest_scan")
