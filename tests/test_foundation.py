import pytest
from django.test import Client

from accounts.models import AuditEvent
from advisor.tasks import record_worker_heartbeat
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_broker(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


@pytest.mark.celery_worker
def test_a_real_worker_runs_a_task_and_writes_to_postgresql(celery_worker) -> None:
    record_worker_heartbeat.delay("from the test")
    event = wait_for(lambda: AuditEvent.objects.filter(action="system.worker_heartbeat").first())
    assert event.summary == "from the test"


def test_healthz_answers_503_when_the_broker_is_unreachable(client: Client, staff_user) -> None:
    """Anonymous callers learn up or down; only staff see the error text (hosts, ports)."""
    from advisor.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        anonymous = client.get("/healthz")
        client.force_login(staff_user)
        staff = client.get("/healthz")
    finally:
        app.conf.broker_url = original
    assert anonymous.status_code == 503
    assert anonymous.json() == {"status": "error", "checks": {"database": "ok", "broker": "error"}}
    assert "127.0.0.1" not in anonymous.text and "Error" not in anonymous.text
    assert staff.status_code == 503
    assert staff.json()["checks"]["broker"].startswith("error:")
    assert "127.0.0.1:1" in staff.json()["checks"]["broker"]
