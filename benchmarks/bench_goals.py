"""Goal Monte Carlo: 10,000 paths x 40 years of monthly returns, and the goal page render.

Targets (issue 4): the simulation under 0.3 s; the goal page under 300 ms with it.
Baselines measured in the same run:
* the same model written as a naive per-path Python loop (random.gauss, one path at a time),
  timed on 200 paths and scaled up to 10,000 (it is linear in the number of paths);
* for the page: the bare simulation, so the ratio shows what the page adds (queries, template).
"""

import math
import random
from decimal import Decimal

from dateutil.relativedelta import relativedelta

from advisor.core import clock
from benchmarks import Report, best_of

PATHS = 10_000
MONTHS = 40 * 12
MU, SIGMA = 0.064, 0.102  # the Balanced demo model under the capital market assumptions


def _simulate() -> object:
    from portfolios.analytics import monte_carlo

    return monte_carlo.simulate(
        initial=25_000,
        contribution=800,
        months=MONTHS,
        mu=MU,
        sigma=SIGMA,
        target=1_500_000,
        paths=PATHS,
    )


def _naive(paths: int) -> float:
    """Per-path Python loop of the same model: returns the success share."""
    s2 = math.log(1 + SIGMA**2 / (1 + MU) ** 2)
    m, s = (math.log(1 + MU) - s2 / 2) / 12, math.sqrt(s2 / 12)
    rng = random.Random(1)
    hits = 0
    for _ in range(paths):
        wealth = 25_000.0
        for _ in range(MONTHS):
            wealth = wealth * math.exp(m + s * rng.gauss(0.0, 1.0)) + 800
        hits += wealth >= 1_500_000
    return hits / paths


def _bench_goal() -> tuple[object, object]:
    from accounts.models import User
    from portfolios import demo
    from portfolios.models import Goal, ModelPortfolio, Portfolio

    demo.seed_reference_data()
    user, _ = User.objects.get_or_create(email="bench-goals@example.com")
    account, _ = Portfolio.objects.get_or_create(
        owner=user,
        name="Bench goals account",
        defaults={
            "cash": Decimal("25000.00"),
            "model": ModelPortfolio.objects.get(slug="balanced"),
        },
    )
    today = clock.today()
    goal, _ = Goal.objects.update_or_create(
        user=user,
        name="Bench retirement",
        defaults={
            "kind": Goal.Kind.RETIREMENT,
            "target_amount": Decimal("1500000.00"),
            "target_date": today + relativedelta(years=40),
            "monthly_contribution": Decimal("800.00"),
        },
    )
    goal.portfolios.set([account])
    return user, goal


def run(report: Report) -> None:
    from django.core.cache import cache
    from django.test import Client
    from django.test.utils import override_settings

    _simulate()  # warm up numpy
    sim = best_of(5, _simulate)
    sample = 200
    naive = best_of(1, lambda: _naive(sample)) * (PATHS / sample)
    report.add(
        "goal Monte Carlo 10,000 paths x 480 months",
        sim,
        "s",
        baseline_name=f"naive per-path Python loop ({sample} paths, scaled x{PATHS // sample})",
        baseline_value=naive,
        target="< 0.3 s",
    )

    user, goal = _bench_goal()
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(ALLOWED_HOSTS=["testserver"], STORAGES=storages):
        client = Client()
        client.force_login(user)
        url = f"/goals/{goal.pk}/"

        def cold() -> None:
            cache.clear()  # the projection is recomputed on every render
            response = client.get(url)
            assert response.status_code == 200, response.status_code

        def warm() -> None:
            response = client.get(url)
            assert response.status_code == 200, response.status_code

        cold()
        page_cold = best_of(5, cold)
        page_warm = best_of(5, warm)
    report.add(
        "goal page render, projection computed (cold cache)",
        page_cold * 1000,
        "ms",
        baseline_name="bare simulation",
        baseline_value=sim * 1000,
        target="< 300 ms",
    )
    report.add(
        "goal page render, projection cached",
        page_warm * 1000,
        "ms",
        baseline_name="cold render",
        baseline_value=page_cold * 1000,
    )
