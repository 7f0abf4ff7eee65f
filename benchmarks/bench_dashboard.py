"""The dashboard under load: an investor with 5 accounts and 500 lots, served by gunicorn
against PostgreSQL, driven by a separate load-generator process over loopback.

Reported for 50 concurrent users, each as a closed loop (send, wait for the answer, repeat):
* "no think time" (wrk-style saturation: every user fires again at once), and
* "1 s think time" (a user reads the page for 0.5 to 1.5 s, 1 s on average, before the next
  request; users start spread over a second, see benchmarks/loadgen.py),
each beside the /healthz endpoint measured the same way (database + broker ping: the floor of
the stack). Target (issue 7): p95 < 150 ms at 50 concurrent users.
"""

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from decimal import Decimal

from advisor.core import clock
from benchmarks import ROOT, Report

ACCOUNTS, LOTS = 5, 500
EMAIL = "bench-dashboard@example.com"
DURATION = float(os.environ.get("BENCH_DASHBOARD_SECONDS", "20"))
USERS = 50


def _seed() -> str:
    """Create (again) the benchmark investor; returns a logged-in session cookie value."""
    import numpy as np
    from django.test import Client

    from accounts.models import User
    from portfolios.models import (
        AssetClass,
        ModelAllocation,
        ModelPortfolio,
        Portfolio,
        Price,
        Security,
        TaxLot,
    )

    User.objects.filter(email=EMAIL).delete()
    user = User.objects.create_user(EMAIL, "bench-password-2026")
    classes = [
        ("bench-us", "US stocks", 0.35),
        ("bench-intl", "International stocks", 0.2),
        ("bench-bonds", "Bonds", 0.25),
        ("bench-tips", "TIPS", 0.1),
        ("bench-reit", "Real estate", 0.1),
    ]
    model, _ = ModelPortfolio.objects.get_or_create(
        slug="bench-model", defaults={"name": "Bench model", "risk_level": 6}
    )
    securities = []
    for i, (code, name, weight) in enumerate(classes):
        ac, _ = AssetClass.objects.get_or_create(
            code=code, defaults={"name": name, "sort_order": i}
        )
        for j in range(2):
            sec, _ = Security.objects.get_or_create(
                ticker=f"BN{i}{j}", defaults={"name": f"{name} fund {j}", "asset_class": ac}
            )
            securities.append(sec)
        ModelAllocation.objects.get_or_create(
            model=model,
            asset_class=ac,
            defaults={"weight": Decimal(str(weight)), "security": securities[-2]},
        )
    today = clock.today()
    days = [
        today - dt.timedelta(days=d)
        for d in range(400, -1, -1)
        if (today - dt.timedelta(days=d)).weekday() < 5
    ]
    rng = np.random.default_rng(7)
    Price.objects.filter(security__in=securities).delete()
    Price.objects.bulk_create(
        [
            Price(security=sec, date=day, close=Decimal(str(round(float(p), 4))), source="bench")
            for sec in securities
            for day, p in zip(
                days, 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, len(days)))), strict=True
            )
        ]
    )
    lots = []
    for a in range(ACCOUNTS):
        portfolio = Portfolio.objects.create(
            owner=user, name=f"Account {a + 1}", model=model, cash=Decimal("2500.00")
        )
        for n in range(LOTS // ACCOUNTS):
            sec = securities[(n * 7 + a) % len(securities)]
            acquired = today - dt.timedelta(days=int(rng.integers(5, 1500)))
            qty = Decimal(str(round(float(rng.uniform(1, 40)), 4)))
            lots.append(
                TaxLot(
                    portfolio=portfolio,
                    security=sec,
                    quantity=qty,
                    original_quantity=qty,
                    cost_basis=(qty * Decimal("95")).quantize(Decimal("0.01")),
                    acquired_on=acquired,
                    holding_start=acquired,
                )
            )
    TaxLot.objects.bulk_create(lots)
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, timeout: float = 30) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"gunicorn did not answer {url}")


def _load(url: str, *, think: float, cookie: str | None) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.loadgen",
        url,
        "--users",
        str(USERS),
        "--duration",
        str(DURATION),
        "--think",
        str(think),
    ]
    if cookie:
        cmd += ["--cookie", f"sessionid={cookie}"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(report: Report) -> None:
    cookie = _seed()
    port = _free_port()
    workers = int(os.environ.get("BENCH_GUNICORN_WORKERS", str(2 * (os.cpu_count() or 2) + 1)))
    env = dict(
        os.environ,
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_MANIFEST_STATIC="0",
        DATABASE_CONN_MAX_AGE="600",
        DJANGO_LOG_LEVEL="WARNING",
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "advisor.wsgi:application",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{base}/healthz")
        for think, label in ((0.0, "no think time"), (1.0, "1 s think time")):
            health = _load(f"{base}/healthz", think=think, cookie=None)
            dash = _load(f"{base}/", think=think, cookie=cookie)
            assert dash["errors"] == 0 and dash["requests"] > 0, dash
            note = f"{USERS} users, {label}, gunicorn {workers} sync workers, {ACCOUNTS} accounts / {LOTS} lots"
            report.add(
                f"dashboard throughput ({label})",
                dash["req_per_s"],
                "req/s",
                baseline_name="/healthz",
                baseline_value=health["req_per_s"],
                note=note,
            )
            for q in ("p50", "p95", "p99"):
                report.add(
                    f"dashboard latency {q} ({label})",
                    dash[q],
                    "ms",
                    baseline_name="/healthz",
                    baseline_value=health[q],
                    target="p95 < 150 ms" if q == "p95" else "",
                )
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
