"""The adviser's console: the household list with every flag, for 10,000 households.

10,000 households, each with one account on a model (8 lots over 20 funds), a risk assessment
(a tenth of them over a year old) and two proposals (rejected, executed, failed or long
pending). Measured in the same run:
- the list page as a superuser sees it (all 10,000 households' flags computed, the first page
  of 50 rendered), through the whole Django stack (test client: middleware, session, MFA check,
  template), warm: best of 5 after 2 warm-up requests; also filtered by a flag;
- the queries the page makes, for 10,000 households and for an adviser's 100 (the same number);
- the baseline: the same flags household by household (the one-household form of the same
  statement, as the household page runs it) on a sample of 300, extrapolated to 10,000.
Target: under 500 ms warm, a constant number of queries.
"""

import datetime as dt
import io
import random

from django.db import connection
from django.test.utils import CaptureQueriesContext

from advisor.core import clock
from benchmarks import Report, timer

N_HOUSEHOLDS = 10_000
LOTS = 8
N_FUNDS = 20
SAMPLE = 300
DATA_VERSION = "v1"
DOMAIN = f"@{DATA_VERSION}.console.bench.example.com"
ADVISER = f"adviser{DOMAIN}"
BOSS = f"boss{DOMAIN}"


def _copy(table: str, columns: list[str], lines: io.StringIO) -> None:
    lines.seek(0)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        while chunk := lines.read(1 << 20):
            copy.write(chunk)


def _households() -> list[int]:
    from accounts.models import User

    return list(
        User.objects.filter(email__endswith=DOMAIN, is_staff=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _setup() -> list[int]:
    """Create the bench data once (reused by later runs); returns the household ids."""
    from accounts.models import Questionnaire, RiskAssessment, User
    from portfolios.models import AssetClass, ModelPortfolio, Portfolio, Price, Security, TaxLot
    from rebalancing.models import Proposal

    owners = _households()
    if len(owners) == N_HOUSEHOLDS:
        return owners
    if owners:
        raise RuntimeError(f"Incomplete bench data for {DOMAIN}: bump DATA_VERSION.")
    print("  generating 10,000 households (once)...", flush=True)
    rng = random.Random(16)
    today, now = clock.today(), clock.now()
    cls, _ = AssetClass.objects.get_or_create(code="bench-console", defaults={"name": "Bench"})
    funds = [
        Security.objects.get_or_create(
            ticker=f"CB{i:02d}", defaults={"name": f"Console fund {i}", "asset_class": cls}
        )[0].pk
        for i in range(N_FUNDS)
    ]
    for sid in funds:
        Price.objects.update_or_create(
            security_id=sid, date=today, defaults={"close": "100.00", "source": "bench"}
        )
    models = [
        ModelPortfolio.objects.get_or_create(
            slug=f"bench-console-{level}",
            defaults={"name": f"Console bench level {level}", "risk_level": level},
        )[0]
        for level in (3, 5, 7, 9)
    ]
    User.objects.bulk_create(
        [User(email=f"h{i:05d}{DOMAIN}", password="!", first_name="Bench", last_name=f"{i}")
         for i in range(N_HOUSEHOLDS)],
        batch_size=5000,
    )  # fmt: skip
    owners = _households()
    Portfolio.objects.bulk_create(
        [Portfolio(owner_id=o, name="Taxable", model=rng.choice(models), cash="1000.00")
         for o in owners],
        batch_size=5000,
    )  # fmt: skip
    accounts = dict(Portfolio.objects.filter(owner_id__in=owners).values_list("owner_id", "pk"))
    lines = io.StringIO()
    for o in owners:
        for _ in range(LOTS):
            qty = rng.uniform(5, 50)
            basis = qty * 100 * rng.uniform(0.7, 1.3)
            day = today - dt.timedelta(days=rng.randint(40, 1500))
            lines.write(f"{accounts[o]}\t{rng.choice(funds)}\t{qty:.4f}\t{qty:.4f}\t{basis:.2f}\t"
                        f"{day}\t{day}\t0.00\t{now.isoformat()}\n")  # fmt: skip
    _copy(
        TaxLot._meta.db_table,
        ["portfolio_id", "security_id", "quantity", "original_quantity", "cost_basis",
         "acquired_on", "holding_start", "wash_sale_adjustment", "created_at"],
        lines,
    )  # fmt: skip
    questionnaire, _ = Questionnaire.objects.get_or_create(version=9000)
    RiskAssessment.objects.bulk_create(
        [RiskAssessment(
            user_id=o, questionnaire=questionnaire, tolerance_score=50, capacity_score=60,
            risk_level=rng.randint(3, 8), max_level=9, limited_by="tolerance",
            answers=[{"question": "outcome_range", "option": rng.choice(["r1", "r2", "r3"])}],
        ) for o in owners],
        batch_size=5000,
    )  # fmt: skip
    RiskAssessment.objects.filter(user_id__in=owners[::10]).update(
        submitted_at=now - dt.timedelta(days=400)
    )
    statuses = ["rejected", "executed", "executed", "failed", "expired", "pending"]
    Proposal.objects.bulk_create(
        [Proposal(
            portfolio_id=accounts[o], kind=kind, status=rng.choice(statuses), rule="threshold",
            reason="bench", prices_as_of=today, holdings_fingerprint="0" * 64,
            expires_at=now, decided_at=now - dt.timedelta(days=rng.randint(1, 200)),
        ) for o in owners for kind in ("rebalance", "harvest")],
        batch_size=5000,
        ignore_conflicts=True,  # one pending per kind and account
    )  # fmt: skip
    Proposal.objects.filter(portfolio_id__in=list(accounts.values())[::7]).update(
        created_at=now - dt.timedelta(days=12)
    )
    with connection.cursor() as cursor:
        for model in (TaxLot, Portfolio, Proposal, RiskAssessment, User, Price):
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    return owners


def _drawdowns(households: list[int]) -> None:
    """Ongoing drawdown episodes (as the daily drawdown check records them) for some households."""
    from rebalancing.models import DrawdownEpisode

    today = clock.today()
    DrawdownEpisode.objects.bulk_create(
        [DrawdownEpisode(
            household_id=h, peak_on=today - dt.timedelta(days=90), depth="-0.2500",
            breached_on=today - dt.timedelta(days=20), trough_on=today - dt.timedelta(days=5),
            tolerance="0.2000",
        ) for h in households],
        ignore_conflicts=True,  # once per household and peak: a re-run adds nothing
    )  # fmt: skip


def _staff(email: str, *, superuser: bool, households: list[int]):
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    from accounts.models import AdviserAssignment, User

    user, created = User.objects.get_or_create(
        email=email, defaults={"is_staff": True, "is_superuser": superuser}
    )
    if created:
        TOTP.activate(user, generate_totp_secret())
        AdviserAssignment.objects.bulk_create(
            [AdviserAssignment(adviser=user, household_id=h) for h in households]
        )
    return user


def _client(user):
    from django.test import Client

    from tests.auth import recently_signed_in

    client = Client(HTTP_HOST="127.0.0.1")  # an allowed host
    client.force_login(user)
    recently_signed_in(client, "mfa")
    return client


def _best_page_time(client, url: str) -> tuple[float, int, int]:
    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 200, (response.status_code, response.get("Location"))
    best = float("inf")
    for _ in range(5):
        with timer() as elapsed:
            response = client.get(url)
        best = min(best, elapsed())
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return best, len(queries), len(response.content)


def run(report: Report) -> None:
    from django.conf import settings
    from django.test import override_settings

    # Static URLs without a collectstatic manifest (the page is rendered in this process).
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages):
        _run(report)


def _run(report: Report) -> None:
    from advisor.console import selectors

    owners = _setup()
    _drawdowns(owners[::13])
    boss = _staff(BOSS, superuser=True, households=[])
    adviser = _staff(ADVISER, superuser=False, households=owners[:100])
    page, queries, size = _best_page_time(_client(boss), "/console/")
    flagged, flagged_queries, _ = _best_page_time(_client(boss), "/console/?flag=stale")
    _, adviser_queries, _ = _best_page_time(_client(adviser), "/console/")

    scope = selectors.Scope(adviser_id=None)
    now, today = clock.now(), clock.today()
    sample = owners[:: N_HOUSEHOLDS // SAMPLE][:SAMPLE]
    with timer() as elapsed:
        for household in sample:
            selectors.household_flags(scope, household, now=now, today=today)
    loop = elapsed() * N_HOUSEHOLDS / len(sample)
    with timer() as elapsed:
        listing = selectors.household_list(scope, now=now, today=today)
    report.add(
        "console household list, 10,000 households (page of 50, warm)", page * 1000, "ms",
        baseline_name=f"per-household loop ({SAMPLE} sampled, x{N_HOUSEHOLDS // SAMPLE})",
        baseline_value=loop * 1000, target="< 500 ms",
        note=f"{queries} queries for 10,000 households, {adviser_queries} for an adviser's 100; "
        f"{size // 1024} KiB; flags: {listing.counts}",
    )  # fmt: skip
    report.add(
        "console list filtered by a flag (stale questionnaire)", flagged * 1000, "ms",
        target="< 500 ms", note=f"{flagged_queries} queries",
    )  # fmt: skip
    report.add("console flags SQL alone, every household in one result", elapsed() * 1000, "ms")
    assert queries == adviser_queries == flagged_queries, (queries, adviser_queries)
