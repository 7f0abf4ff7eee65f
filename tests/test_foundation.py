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


def test_healthz_answers_503_when_the_broker_is_unreachable(client: Client) -> None:
    from advisor.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error:")
