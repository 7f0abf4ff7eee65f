"""/healthz: is the database answering, is the broker reachable. Anonymous callers get up or
down per check; the error text (hosts, ports) is for staff only."""

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from advisor.celery import app as celery_app


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_broker() -> str:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    for name, check in (("database", _check_database), ("broker", _check_broker)):
        try:
            checks[name] = check()
        except Exception as exc:  # any failure is reported, not raised
            checks[name] = f"error: {exc.__class__.__name__}: {exc}"
    healthy = all(value == "ok" for value in checks.values())
    body: dict[str, object] = {"status": "ok" if healthy else "error"}
    if request.user.is_authenticated and request.user.is_staff:
        body["checks"] = checks  # the error text names hosts and ports: staff only
    else:
        body["checks"] = {
            name: "ok" if value == "ok" else "error" for name, value in checks.items()
        }
    return JsonResponse(body, status=200 if healthy else 503)
