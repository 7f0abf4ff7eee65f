"""Shared fixtures: the suite's clock, users, a real Celery worker process, a real Chromium.

The suite runs on PostgreSQL and Redis (see [tool.pytest.ini_options] env in pyproject.toml);
there is no SQLite or in-memory fallback, on purpose.

Every test runs on a clock that time_machine has moved to the *suite day*: the real time when
ADVISOR_TEST_NOW is unset, otherwise that instant (e.g. `ADVISOR_TEST_NOW=2028-02-29T23:30-05:00
make test`). `make test-clock` runs the suite on several awkward days (a Saturday, the day after
a long weekend, a leap day late in the evening, five years ahead), so a test that mixes a fixed
date with "today" fails there. A test that needs one particular day travels there itself.
Worker processes the tests start run on the same clock (tests/frozen_clock.py).
"""

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import zoneinfo
from collections.abc import Callable, Iterator
from pathlib import Path

import hypothesis
import pytest
import time_machine
from django.conf import settings
from django.db import connection

from advisor.core import clock
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts"


def _suite_now() -> dt.datetime:
    value = os.environ.get("ADVISOR_TEST_NOW", "").strip()
    if not value:
        return dt.datetime.now(dt.UTC)  # noqa: TID251 - the suite day is the real day by default
    moment = dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))
    return moment


SUITE_NOW = _suite_now()


def pytest_report_header() -> str:
    return f"suite clock: {SUITE_NOW.isoformat()} (reproduce with ADVISOR_TEST_NOW={SUITE_NOW.isoformat()})"


@pytest.fixture(autouse=True)
def _suite_clock() -> Iterator[None]:
    """Every test starts on the suite day, the clock ticking from there."""
    with time_machine.travel(SUITE_NOW, tick=True):
        yield


@pytest.fixture
def today() -> dt.date:
    """The suite day in the site's time zone (what the product's clock calls today)."""
    from advisor.core import clock

    return clock.today()


def pytest_sessionstart(session: pytest.Session) -> None:
    """The app's runtime database role must exist before the test database is migrated (the
    migrate grants it its privileges): create it if missing, as .ci/run does."""
    from tests import db_roles

    db_roles.ensure_runtime_role()


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Rate limits and used-code marks live in the shared Redis cache: each test starts clean."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True, scope="session")
def _require_postgresql() -> None:
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql", (
        "The test suite runs on PostgreSQL: set DATABASE_URL=postgres://..."
    )


@pytest.fixture
def user(db: None):
    return UserFactory(email="investor@example.com")


@pytest.fixture
def other_user(db: None):
    return UserFactory(email="charlie@example.com")


@pytest.fixture
def staff_user(db: None):
    return UserFactory(email="adviser@example.com", is_staff=True)


# --- a real Celery worker ------------------------------------------------------------------


class CeleryWorker:
    """A `celery worker` subprocess consuming from the test Redis, writing to the test database."""

    def __init__(self, database_name: str, concurrency: int = 2) -> None:
        self.database_name = database_name
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = ARTIFACTS / f"celery-worker-{os.getpid()}.log"

    def _env(self) -> dict[str, str]:
        db = settings.DATABASES["default"]
        user = db.get("USER") or "postgres"
        host = db.get("HOST") or "127.0.0.1"
        port = db.get("PORT") or 5432
        env = dict(os.environ)
        env["DATABASE_URL"] = f"postgres://{user}@{host}:{port}/{self.database_name}"
        env["DATABASE_CONN_MAX_AGE"] = "0"
        env["REDIS_URL"] = settings.CELERY_BROKER_URL
        env["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL
        # The worker must send mail somewhere a test can read it: files under var/.
        env["EMAIL_URL"] = "consolemail://"
        # The worker runs on the test's clock (the suite day, or where the test travelled).
        env["ADVISOR_TEST_NOW"] = clock.now().isoformat()
        return env

    def start(self) -> "CeleryWorker":
        ARTIFACTS.mkdir(exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "tests" / "frozen_clock.py"),
                "celery",
                "-A",
                "advisor",
                "worker",
                "--loglevel=INFO",
                f"--concurrency={self.concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
            ],
            cwd=ROOT,
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        from advisor.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, (
                f"celery worker exited early; see {self.log_path}"
            )
            if app.control.ping(timeout=0.5):
                return
        raise TimeoutError(f"celery worker not ready in {timeout}s; see {self.log_path}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the whole process group (main process and pool children) at once."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


#: A port nothing listens on: the web process's broker while a test "stops" it.
CLOSED_BROKER_PORT = 6399


def _reset_broker_connections(app: object) -> None:
    # Forget the cached pools: the next send connects to the current URL (kombu keeps one
    # producer pool per URL, so the test Redis's pool is found again intact).
    app._pool = None  # type: ignore[attr-defined]
    app.amqp._producer_pool = None  # type: ignore[attr-defined]


@contextlib.contextmanager
def broker_stopped() -> Iterator[None]:
    """The broker is down for this process (the web process): it sends to a closed port until
    the block ends, then to the test Redis again. Workers keep their own connection."""
    from advisor.celery import app

    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", CLOSED_BROKER_PORT)) != 0, "the port must be closed"
    url = app.conf.broker_url
    app.conf.broker_url = f"redis://127.0.0.1:{CLOSED_BROKER_PORT}/0"
    _reset_broker_connections(app)
    try:
        yield
    finally:
        app.conf.broker_url = url
        _reset_broker_connections(app)


def _purge_test_broker() -> None:
    import redis

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()


@pytest.fixture
def start_celery_worker(transactional_db: None) -> Iterator[Callable[..., CeleryWorker]]:
    """Start one or more real workers; each is stopped at the end of the test.

    Tests using it must commit their data (the fixture implies `transactional_db`), because
    the worker is another process with its own database connection.
    """
    _purge_test_broker()
    workers: list[CeleryWorker] = []

    def start(concurrency: int = 2) -> CeleryWorker:
        worker = CeleryWorker(connection.settings_dict["NAME"], concurrency=concurrency).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
    _purge_test_broker()
    connection.close()


@pytest.fixture
def celery_worker(start_celery_worker: Callable[..., CeleryWorker]) -> CeleryWorker:
    return start_celery_worker()


# --- gunicorn with several workers -----------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """`gunicorn advisor.wsgi` with several worker processes, as the Dockerfile runs it, on
    the test database (connecting as the app's runtime role, which owns nothing), the test
    Redis and the suite clock."""

    def __init__(self, database_name: str, workers: int = 3) -> None:
        self.database_name = database_name
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = ARTIFACTS / f"gunicorn-{os.getpid()}-{self.port}.log"
        self._started_at = clock.now()
        self._started_monotonic = time.monotonic()

    def _env(self) -> dict[str, str]:
        db = settings.DATABASES["default"]
        host = db.get("HOST") or "127.0.0.1"
        port = db.get("PORT") or 5432
        env = dict(os.environ)
        env["DATABASE_URL"] = (
            f"postgres://{settings.ADVISOR_DB_APP_ROLE}@{host}:{port}/{self.database_name}"
        )
        env["DATABASE_CONN_MAX_AGE"] = "0"
        env["REDIS_URL"] = settings.CELERY_BROKER_URL
        env["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1,localhost"
        env["ADVISOR_TEST_NOW"] = self._started_at.isoformat()
        return env

    def now(self) -> dt.datetime:
        """The workers' clock: the instant they started on, ticking since. (Each test of the
        module starts its own clock at the suite day again, so the two drift apart.)"""
        return self._started_at + dt.timedelta(seconds=time.monotonic() - self._started_monotonic)

    def start(self) -> "Gunicorn":
        import httpx

        ARTIFACTS.mkdir(exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "tests" / "frozen_clock.py"),
                "gunicorn",
                "advisor.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--access-logfile",
                "-",
            ],
            cwd=ROOT,
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"gunicorn exited early; see {self.log_path}"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code in (200, 503):
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise TimeoutError(f"gunicorn not ready; see {self.log_path}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def gunicorn(django_db_setup: None, django_db_blocker: object) -> Iterator[Gunicorn]:
    """One gunicorn with 3 workers per test module. Tests using it commit their data
    (`transactional_db`): the workers are other processes."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        name = connection.settings_dict["NAME"]
    # A module fixture runs before each test's clock is set: start the workers on the suite day.
    with time_machine.travel(SUITE_NOW, tick=True):
        server = Gunicorn(name).start()
    yield server
    server.stop()


def wait_for(condition: Callable[[], object], timeout: float = 30, interval: float = 0.1) -> object:
    """Poll until `condition()` is truthy; return its value or fail with a timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


# --- a real browser ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: object, live_server: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def screenshot(page: object, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ (kept by CI as an artifact)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path


# --- hypothesis --------------------------------------------------------------------------

# Property tests draw the same examples on every run (a red CI must mean a real change, never a
# lucky draw); HYPOTHESIS_PROFILE=explore searches new examples when hunting for bugs locally.
hypothesis.settings.register_profile("suite", derandomize=True, print_blob=True)
hypothesis.settings.register_profile("explore", derandomize=False, max_examples=1000)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))
