"""Production settings: no start without a strong secret key, `check --deploy` fails on the
development key; passwords of 12+ characters not on the common list; sessions that end."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.urls import reverse

from advisor.celery import refuse_a_weak_secret_key
from advisor.core import clock
from advisor.security import passwords, secret_key
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parent.parent.parent


def _manage(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ADVISOR_"))}
    env |= {"ADVISOR_VAR_DIR": "/tmp/advisor-test-var", **variables}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def _start_web(**variables: str) -> subprocess.CompletedProcess[str]:
    """Load the WSGI application as gunicorn does (`gunicorn advisor.wsgi`), then stop."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ADVISOR_"))}
    env |= {"ADVISOR_VAR_DIR": "/tmp/advisor-test-var", **variables}
    return subprocess.run(
        [sys.executable, "-c", "import advisor.wsgi"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = _start_web(DJANGO_DEBUG="0")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr
    assert "refuses to start" in result.stderr


@pytest.mark.parametrize(
    "key",
    [
        "dev-only-insecure-key-set-DJANGO_SECRET_KEY-in-production-0123456789",
        "change-me-to-a-long-random-string-of-at-least-50-characters-0123456789",
        "django-insecure-" + "x7#kP2!vQ9zR4mW8nL1bT6yH3cF5gJ0dS-uE_aZoXiVqN",
        "short-key",
        "a" * 60,
    ],
)
def test_a_published_or_weak_key_is_refused(key: str) -> None:
    assert secret_key.weakness(key) is not None


def test_production_refuses_to_start_on_the_old_development_key() -> None:
    old_default = "dev-only-insecure-key-set-DJANGO_SECRET_KEY-in-production-0123456789"
    result = _start_web(DJANGO_DEBUG="0", DJANGO_SECRET_KEY=old_default)
    assert result.returncode != 0 and "published development key" in result.stderr


def test_a_worker_refuses_to_start_on_a_weak_key(settings) -> None:
    settings.DEBUG, settings.SECRET_KEY = False, "short-key"
    with pytest.raises(ImproperlyConfigured, match="refuses to start"):
        refuse_a_weak_secret_key()


def test_commands_that_sign_nothing_run_without_a_key() -> None:
    result = _manage("makemigrations", "--check", "--dry-run", DJANGO_DEBUG="0")
    assert result.returncode == 0, result.stderr


def test_check_deploy_fails_on_the_development_key() -> None:
    result = _manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_DEBUG="1")
    assert result.returncode != 0
    assert "advisor.E001" in result.stderr + result.stdout


def test_a_random_key_is_strong() -> None:
    assert secret_key.weakness("x7#kP2!vQ9zR4mW8nL1bT6yH3cF5gJ0dS-uE_aZoXiVqN&pKrMs") is None


@pytest.mark.parametrize(
    "password",
    [
        "Tr0ub4dor&3",  # 11 characters
        "qwertyuiop123",  # common, with digits appended
        "dragon2026!!",  # common word, digits and symbols appended
        "football1234",
        "iloveyou2024",
    ],
)
def test_short_or_common_passwords_are_refused(password: str) -> None:
    with pytest.raises(ValidationError):
        validate_password(password)


def test_the_password_list_is_larger_than_djangos() -> None:
    validator = passwords.CommonPasswordValidator()
    assert len(validator.passwords) > 40_000
    from django.contrib.auth.password_validation import CommonPasswordValidator

    assert len(validator.passwords) > 2 * len(CommonPasswordValidator().passwords)
    # A password on the larger list that Django's own list does not hold is refused.
    extra = sorted(validator.passwords - CommonPasswordValidator().passwords)
    long_extra = next(p for p in extra if len(p) >= 12)
    with pytest.raises(ValidationError):
        validate_password(long_extra)


def test_a_long_uncommon_password_is_accepted() -> None:
    validate_password("plover-quietly-saffron-81")


@pytest.mark.django_db
def test_a_session_ends_after_30_idle_minutes(client, user) -> None:
    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    start = clock.now()
    with time_machine.travel(start + dt.timedelta(minutes=29), tick=False):
        assert client.get(reverse("portfolios:list")).status_code == 200
    with time_machine.travel(start + dt.timedelta(minutes=29 + 31), tick=False):
        response = client.get(reverse("portfolios:list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert client.get(reverse("portfolios:list")).status_code == 302  # signed out for good


@pytest.mark.django_db
def test_a_session_ends_12_hours_after_sign_in_however_active(client, user) -> None:
    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    start = clock.now()
    for minutes in range(20, 12 * 60, 20):  # a request every 20 minutes
        with time_machine.travel(start + dt.timedelta(minutes=minutes), tick=False):
            assert client.get(reverse("portfolios:list")).status_code == 200, minutes
    with time_machine.travel(start + dt.timedelta(hours=12, minutes=5), tick=False):
        assert client.get(reverse("portfolios:list")).status_code == 302


@pytest.mark.django_db
def test_the_api_answers_401_after_the_idle_timeout(client, user) -> None:
    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    with time_machine.travel(clock.now() + dt.timedelta(hours=1), tick=False):
        response = client.get("/api/portfolios/")
    assert response.status_code == 401
