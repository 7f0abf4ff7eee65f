"""Drift scan over 100,000 portfolios x 8 holdings, proposals written.

Reported beside two baselines measured in the same run:
(a) the floor: reading the same rows (portfolios and open lots, batch by batch) from PostgreSQL
    and doing nothing with them;
(b) the usual implementation: a per-portfolio ORM loop (load, price each lot, Decimal drift,
    write the proposal row by row) on a sample of 500 portfolios, extrapolated.
Targets: the scan within 3x of the floor (ratio >= 0.33) and >= 50x the naive loop. Also
reports the queries per batch for two batch sizes (they must be equal).

The data (50,000 households, 100,000 portfolios on one 8-class model, 800,000 lots) is created
once with COPY and reused; each run deletes the previous run's rebalance proposals first.
Sizes can be lowered for a quick look: ADVISOR_BENCH_DRIFT_PORTFOLIOS=20000.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import time
from collections import defaultdict
from decimal import Decimal

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts import audit
from advisor.core import clock
from benchmarks import Report, timer, vacuum
from portfolios.models import (
    AssetClass,
    ModelAllocation,
    ModelPortfolio,
    Portfolio,
    Price,
    Security,
    TaxLot,
)
from rebalancing.models import Proposal, ProposedTrade, RebalancePolicy, ScanBatch, ScanRun
from rebalancing.services import drift

N_PORTFOLIOS = int(os.environ.get("ADVISOR_BENCH_DRIFT_PORTFOLIOS", "100000"))
NAIVE_SAMPLE = 500
SLUG = f"bench-drift-{N_PORTFOLIOS}"
CLASSES = [
    "bus-stocks",
    "bintl-dev",
    "bemerging",
    "bus-bonds",
    "bintl-bonds",
    "btips",
    "breits",
    "bgold",
]
TARGET = np.array([0.30, 0.15, 0.10, 0.10, 0.15, 0.10, 0.05, 0.05])
PRICES = np.array([250.0, 60.0, 45.0, 80.0, 75.0, 50.0, 90.0, 170.0])


def _last_weekday(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


def _copy(table: str, columns: list[str], frame: pd.DataFrame) -> None:
    buffer = io.StringIO()
    frame.to_csv(buffer, sep="\t", header=False, index=False, na_rep="\\N")
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        copy.write(buffer.getvalue())


def ensure_data(today: dt.date) -> tuple[ModelPortfolio, list[Security]]:
    """Create the universe once (reused when present); refresh today's prices."""
    price_date = _last_weekday(today)
    securities = []
    for i, code in enumerate(CLASSES):
        klass, _ = AssetClass.objects.get_or_create(
            code=code, defaults={"name": f"Bench class {i + 1}"}
        )
        security, _ = Security.objects.get_or_create(
            ticker=f"BNCH{i + 1}", defaults={"name": f"Bench fund {i + 1}", "asset_class": klass}
        )
        Price.objects.get_or_create(
            security=security, date=price_date, defaults={"close": Decimal(str(PRICES[i]))}
        )
        securities.append(security)
    model, created = ModelPortfolio.objects.get_or_create(
        slug=SLUG, defaults={"name": SLUG, "risk_level": 5}
    )
    if created:
        for security, weight in zip(securities, TARGET, strict=True):
            ModelAllocation.objects.create(
                model=model,
                asset_class=security.asset_class,
                security=security,
                weight=Decimal(str(weight)),
            )
    have = Portfolio.objects.filter(model=model).count()
    if have == N_PORTFOLIOS:
        return model, securities
    if have:
        raise SystemExit(f"bench database holds {have} portfolios of {SLUG}; drop it and rerun")

    print(f"creating {N_PORTFOLIOS:,} portfolios x 8 lots with COPY ...", flush=True)
    rng = np.random.default_rng(20261125)
    now = clock.now().isoformat()
    households = N_PORTFOLIOS // 2
    emails = [f"bench{N_PORTFOLIOS}-{i}@example.com" for i in range(households)]
    with transaction.atomic():
        _copy(
            "accounts_user",
            [
                "password",
                "is_superuser",
                "first_name",
                "last_name",
                "is_staff",
                "is_active",
                "date_joined",
                "email",
            ],
            pd.DataFrame(
                {
                    "p": "!",
                    "su": "f",
                    "fn": "Bench",
                    "ln": "Investor",
                    "st": "f",
                    "ac": "t",
                    "dj": now,
                    "e": emails,
                }
            ),
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM accounts_user WHERE email LIKE %s ORDER BY id",
                [f"bench{N_PORTFOLIOS}-%"],
            )
            owner_ids = np.array([r[0] for r in cursor.fetchall()])
        value = rng.lognormal(np.log(60000), 0.8, N_PORTFOLIOS)
        cash_share = rng.uniform(0, 0.008, N_PORTFOLIOS)
        cash_share[rng.random(N_PORTFOLIOS) < 0.03] = 0.05  # some deposits waiting
        cash = np.round(value * cash_share, 2)
        _copy(
            "portfolios_portfolio",
            [
                "owner_id",
                "name",
                "tax_treatment",
                "broker_name",
                "account_number_last4",
                "base_currency",
                "cash",
                "model_id",
                "is_active",
                "reinvest_dividends",
                "created_at",
                "updated_at",
            ],
            pd.DataFrame(
                {
                    "o": np.repeat(owner_ids, 2),
                    "n": [f"Bench {i % 2}" for i in range(N_PORTFOLIOS)],
                    "t": "taxable",
                    "b": "",
                    "a": "",
                    "c": "USD",
                    "cash": [f"{c:.2f}" for c in cash],
                    "m": model.pk,
                    "act": "t",
                    "drip": "f",
                    "ca": now,
                    "ua": now,
                }
            ),
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM portfolios_portfolio WHERE model_id = %s ORDER BY id", [model.pk]
            )
            portfolio_ids = np.array([r[0] for r in cursor.fetchall()])
        # Weights scattered around the target (log-normal noise): a few percent breach a band.
        weights = TARGET[None, :] * np.exp(rng.normal(0, 0.08, (N_PORTFOLIOS, 8)))
        weights /= weights.sum(axis=1, keepdims=True)
        shares = np.round(weights * (value - cash)[:, None] / PRICES[None, :], 4)
        basis = np.round(shares * PRICES[None, :] * rng.uniform(0.6, 1.3, shares.shape), 2)
        acquired = pd.to_datetime("2019-01-02") + pd.to_timedelta(
            rng.integers(0, 6 * 365, shares.shape).ravel(), "D"
        )
        acquired_text = acquired.strftime("%Y-%m-%d")
        security_ids = np.array([s.pk for s in securities])
        _copy(
            "portfolios_taxlot",
            [
                "portfolio_id",
                "security_id",
                "quantity",
                "original_quantity",
                "cost_basis",
                "acquired_on",
                "holding_start",
                "wash_sale_adjustment",
                "created_at",
            ],
            pd.DataFrame(
                {
                    "p": np.repeat(portfolio_ids, 8),
                    "s": np.tile(security_ids, N_PORTFOLIOS),
                    "q": shares.ravel(),
                    "oq": shares.ravel(),
                    "cb": basis.ravel(),
                    "a": acquired_text,
                    "h": acquired_text,
                    "w": "0.00",
                    "ca": now,
                }
            ),
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE portfolios_portfolio; ANALYZE portfolios_taxlot; ANALYZE accounts_user"
        )
    return model, securities


def clear_results(model: ModelPortfolio) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        where = "p.kind = 'rebalance' AND p.portfolio_id IN (SELECT id FROM portfolios_portfolio WHERE model_id = %s)"
        for table in ("rebalancing_proposedtrade", "rebalancing_notification"):
            cursor.execute(
                f"DELETE FROM {table} WHERE proposal_id IN (SELECT p.id FROM rebalancing_proposal p WHERE {where})",
                [model.pk],
            )
        cursor.execute(f"DELETE FROM rebalancing_proposal p WHERE {where}", [model.pk])
    vacuum()


def read_floor(batches: list[list[int]]) -> float:
    """Seconds to read the portfolio and open-lot rows of every batch and do nothing else."""
    with timer() as elapsed, connection.cursor() as cursor:
        for ids in batches:
            cursor.execute(
                "SELECT id, owner_id, cash, model_id FROM portfolios_portfolio WHERE id = ANY(%s)",
                [ids],
            )
            cursor.fetchall()
            cursor.execute(
                "SELECT id, portfolio_id, security_id, quantity, cost_basis, holding_start FROM portfolios_taxlot "
                "WHERE quantity > 0 AND portfolio_id = ANY(%s)",
                [ids],
            )
            cursor.fetchall()
    return elapsed()


def scan(batches: list[list[int]], today: dt.date) -> tuple[float, ScanRun]:
    """The whole scan in this process, batch after batch (workers would run batches in parallel)."""
    with timer() as elapsed:
        run = ScanRun.objects.create(
            kind=ScanRun.Kind.DRIFT, as_of=today, batches_total=len(batches)
        )
        ScanBatch.objects.bulk_create(
            [ScanBatch(scan_run=run, number=n, portfolio_ids=ids) for n, ids in enumerate(batches)]
        )
        for n, ids in enumerate(batches):
            drift.check_drift_batch(run.pk, ids, n)
    run.refresh_from_db()
    return elapsed(), run


def naive_check(portfolio_id: int, today: dt.date) -> bool:
    """The usual implementation: one portfolio at a time through the ORM, Decimal arithmetic."""
    portfolio = Portfolio.objects.get(pk=portfolio_id)
    lots = list(
        TaxLot.objects.open().filter(portfolio=portfolio).select_related("security__asset_class")
    )
    allocations = list(
        ModelAllocation.objects.filter(model_id=portfolio.model_id).select_related("asset_class")
    )
    rules = (
        RebalancePolicy.objects.filter(portfolio=portfolio).first()
        or RebalancePolicy.objects.filter(model_id=portfolio.model_id).first()
        or RebalancePolicy()
    )
    values: dict[str, Decimal] = defaultdict(Decimal)
    prices: dict[int, Decimal] = {}
    for lot in lots:
        price = (
            Price.objects.filter(security_id=lot.security_id, date__lte=today)
            .order_by("-date")
            .first()
        )
        prices[lot.security_id] = price.close
        values[lot.security.asset_class.code] += lot.quantity * price.close
    invested = sum(values.values(), Decimal("0"))
    total = invested + portfolio.cash
    fired = False
    for allocation in allocations:
        weight = values[allocation.asset_class.code] / invested if invested else Decimal("0")
        band = min(rules.absolute_band, rules.relative_band * allocation.weight)
        fired = fired or abs(weight - allocation.weight) > band
    if not fired:
        return False
    with transaction.atomic():
        Proposal.objects.filter(portfolio=portfolio, kind="rebalance", status="pending").update(
            status="superseded"
        )
        proposal = Proposal.objects.create(
            portfolio=portfolio,
            kind="rebalance",
            rule="threshold",
            reason="Drift beyond the band.",
            total_value=total,
            prices_as_of=today,
            holdings_fingerprint="naive",
            expires_at=clock.now() + dt.timedelta(hours=72),
        )
        investable = total * (1 - rules.cash_buffer)
        for n, allocation in enumerate(allocations):
            delta = allocation.weight * investable - values[allocation.asset_class.code]
            price = (
                prices.get(allocation.security_id)
                or Price.objects.filter(security_id=allocation.security_id)
                .order_by("-date")
                .first()
                .close
            )
            if abs(delta) >= rules.min_trade_amount:
                ProposedTrade.objects.create(
                    proposal=proposal,
                    security_id=allocation.security_id,
                    side="buy" if delta > 0 else "sell",
                    quantity=(abs(delta) / price).quantize(Decimal("0.00000001")),
                    price=price,
                    amount=abs(delta).quantize(Decimal("0.01")),
                    sequence=n,
                    idempotency_key=f"naive-{proposal.pk}-{n}",
                )
        audit.record(
            "proposal.created.rebalance", household=portfolio.owner, obj=proposal, summary="naive"
        )
    return True


def run(report: Report) -> None:
    today = clock.today()
    model, _ = ensure_data(today)
    ids = list(Portfolio.objects.filter(model=model).order_by("pk").values_list("pk", flat=True))
    size = settings.ADVISOR_SCAN_BATCH_SIZE
    batches = [ids[i : i + size] for i in range(0, len(ids), size)]
    clear_results(model)

    # (b) the naive loop on a sample spread over the whole range.
    sample = ids[:: max(1, len(ids) // NAIVE_SAMPLE)][:NAIVE_SAMPLE]
    with timer() as elapsed:
        naive_fired = sum(naive_check(pid, today) for pid in sample)
    naive_rate = len(sample) / elapsed()
    clear_results(model)

    # Queries per batch: the same for 200 and for 2,000 portfolios.
    with CaptureQueriesContext(connection) as small:
        drift.check_portfolios(ids[:200], today=today, dry_run=True)
    with CaptureQueriesContext(connection) as large:
        drift.check_portfolios(ids[:size], today=today, dry_run=True)

    # (a) the floor, then the scan (twice each; the best counts, both on a warm cache).
    floor = min(read_floor(batches) for _ in range(2))
    seconds, result = scan(batches, today)
    clear_results(model)
    seconds2, result = scan(batches, today)
    seconds = min(seconds, seconds2)
    rate = len(ids) / seconds
    proposals = result.proposals_created
    note = (
        f"{len(ids):,} portfolios in {seconds:.1f}s, {len(batches)} batches of {size}, {proposals:,} proposals "
        f"written ({proposals / len(ids):.1%}); naive sample fired {naive_fired}/{len(sample)}"
    )
    report.add(
        "drift scan vs raw read floor",
        rate,
        "portfolios/s",
        baseline_name="read the same rows",
        baseline_value=len(ids) / floor,
        target="ratio >= 0.33 (within 3x of the floor)",
        note=note,
    )
    report.add(
        "drift scan vs naive per-portfolio ORM loop",
        rate,
        "portfolios/s",
        baseline_name=f"naive loop ({len(sample)} sampled, extrapolated)",
        baseline_value=naive_rate,
        target="ratio >= 50x",
    )
    report.add(
        "queries per batch",
        float(len(large.captured_queries)),
        f"queries ({size} portfolios)",
        baseline_name="200 portfolios",
        baseline_value=float(len(small.captured_queries)),
        target="ratio 1.00 (constant)",
    )
    if result.errors:
        print("scan errors:", result.errors[:5])
    # Keep the database from growing run after run.
    clear_results(model)
    ScanRun.objects.filter(pk=result.pk).delete()
    time.sleep(0)
