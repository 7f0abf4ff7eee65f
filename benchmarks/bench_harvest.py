"""Harvest scan over 1,000,000 tax lots in PostgreSQL.

50,000 households, each with a taxable account of 20 lots (1,000,000 lots scanned) and an IRA
of 2 lots (read by the wash-sale guard), 40 ETFs in 20 replacement pairs. Prices are set so
that a realistic minority of positions are under water; about 3% of lots were bought in the
past 30 days (the guard skips those positions).

Measured in the same run:
- the scan: every batch of households (10,000 per batch) loaded, computed, guarded and its
  proposals written (first run: proposals inserted; re-run: the idempotent re-run that keeps
  them); each the best of two runs (the first run again after deleting its proposals);
- (a) the floor: a raw COPY of the same lot rows to the client (no parsing, no computation);
- (b) the naive implementation: a per-portfolio ORM loop (lots, latest price per lot, recent
  purchases in the household per position) on a sample of 300 portfolios, extrapolated.
Target: the scan within 3x of the floor.
"""

import datetime as dt
import io

import numpy as np
from django.db import connection

from advisor.core import clock
from benchmarks import Report, timer, vacuum

N_HOUSEHOLDS = 50_000
LOTS_PER_TAXABLE = 20
LOTS_PER_IRA = 2
N_PAIRS = 20
ON = dt.date(2026, 11, 20)
BATCH = 10_000
SAMPLE = 300
DATA_VERSION = "v2"  # bump when the generated data changes (audit events keep old users alive)
DOMAIN = f"@{DATA_VERSION}.harvest.bench.example.com"
EMAIL = "hb{:06d}" + DOMAIN


def _copy(table: str, columns: list[str], lines: io.StringIO) -> None:
    lines.seek(0)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        while chunk := lines.read(1 << 20):
            copy.write(chunk)


def _setup() -> tuple[list[int], list[int]]:
    """Create the bench data once (reused by later runs); returns (owner ids, taxable ids)."""
    from accounts.models import User
    from portfolios.models import AssetClass, Portfolio, Price, Security, TaxLot
    from rebalancing.models import ReplacementPair

    cls, _ = AssetClass.objects.get_or_create(
        code="bench-harvest", defaults={"name": "Bench harvest"}
    )
    secs = []
    for i in range(2 * N_PAIRS):
        s, _ = Security.objects.get_or_create(
            ticker=f"HV{i:03d}", defaults={"name": f"Harvest bench {i}", "asset_class": cls}
        )
        secs.append(s.pk)
    for i in range(N_PAIRS):
        a, b = secs[2 * i], secs[2 * i + 1]
        ReplacementPair.objects.get_or_create(security_id=a, replacement_id=b)
        ReplacementPair.objects.get_or_create(security_id=b, replacement_id=a)
    rng = np.random.default_rng(6)
    price = np.round(rng.uniform(40, 400, 2 * N_PAIRS), 2)
    for sid, p in zip(secs, price, strict=True):
        Price.objects.update_or_create(
            security_id=sid, date=ON, defaults={"close": f"{p:.2f}", "source": "bench"}
        )

    owners = list(
        User.objects.filter(email__endswith=DOMAIN).order_by("pk").values_list("pk", flat=True)
    )
    taxable = list(
        Portfolio.objects.filter(owner_id__in=owners, tax_treatment="taxable")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    expected = N_HOUSEHOLDS * LOTS_PER_TAXABLE
    lots = TaxLot.objects.filter(
        portfolio__tax_treatment="taxable", portfolio__owner__email__endswith=DOMAIN
    )
    if len(owners) == N_HOUSEHOLDS and lots.count() == expected:
        return owners, taxable

    print("  generating 50,000 households and 1,100,000 lots (once)...", flush=True)
    if owners:
        raise RuntimeError(
            f"Incomplete bench data for {DOMAIN}: bump DATA_VERSION or drop the bench database."
        )
    User.objects.bulk_create(
        [
            User(email=EMAIL.format(i), password="!", first_name="Bench")
            for i in range(N_HOUSEHOLDS)
        ],
        batch_size=5000,
    )
    owners = list(
        User.objects.filter(email__endswith=DOMAIN).order_by("pk").values_list("pk", flat=True)
    )
    Portfolio.objects.bulk_create(
        [Portfolio(owner_id=o, name="Taxable", tax_treatment="taxable") for o in owners]
        + [Portfolio(owner_id=o, name="IRA", tax_treatment="traditional_ira") for o in owners],
        batch_size=10_000,
    )
    rows = list(Portfolio.objects.filter(owner_id__in=owners).values_list("pk", "tax_treatment"))
    taxable = sorted(pk for pk, t in rows if t == "taxable")
    ira = sorted(pk for pk, t in rows if t != "taxable")

    lines = io.StringIO()
    now = clock.now().isoformat()
    sec_arr = np.array(secs)
    # A market where one fund (say emerging markets) fell: its lots range from 8% above to 25%
    # below cost; every other fund trades above nearly all of its lots' cost.
    down = np.zeros(2 * N_PAIRS, dtype=bool)
    down[3] = True
    for portfolios, per in ((taxable, LOTS_PER_TAXABLE), (ira, LOTS_PER_IRA)):
        n = len(portfolios) * per
        pid = np.repeat(np.array(portfolios), per)
        # Each account holds 8 funds; its lots are spread over them.
        held = rng.integers(0, 2 * N_PAIRS, (len(portfolios), 8))
        j = held[np.arange(n) // per, rng.integers(0, 8, n)]
        qty = np.round(rng.uniform(5, 120, n), 4)
        ratio = np.where(down[j], rng.uniform(0.92, 1.25, n), rng.uniform(0.55, 1.04, n))
        basis = np.round(qty * price[j] * ratio, 2)
        age = np.where(rng.random(n) < 0.03, rng.integers(0, 30, n), rng.integers(30, 1800, n))
        acquired = (np.datetime64(ON) - age.astype("timedelta64[D]")).astype(str)
        for k in range(n):
            lines.write(
                f"{pid[k]}\t{sec_arr[j[k]]}\t{qty[k]:.4f}\t{qty[k]:.4f}\t{basis[k]:.2f}\t{acquired[k]}\t{acquired[k]}\t0.00\t{now}\n"
            )
    _copy(
        TaxLot._meta.db_table,
        ["portfolio_id", "security_id", "quantity", "original_quantity", "cost_basis", "acquired_on",
         "holding_start", "wash_sale_adjustment", "created_at"],
        lines,
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {TaxLot._meta.db_table}")
        cursor.execute(f"ANALYZE {Portfolio._meta.db_table}")
    return owners, taxable


def _floor(lo: int, hi: int) -> float:
    """Seconds to COPY the scan's lot rows to the client, unparsed."""
    from rebalancing.services import harvest

    with timer() as elapsed, connection.cursor() as cursor:
        raw = cursor.connection.cursor()
        query = raw.mogrify(harvest.lots_sql(owner_range=True), [lo, hi])
        size = 0
        with raw.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)") as copy:
            for chunk in copy:
                size += len(chunk)
    assert size > 0
    return elapsed()


def _fetchall(lo: int, hi: int) -> float:
    from rebalancing.services import harvest

    with timer() as elapsed, connection.cursor() as cursor:
        cursor.execute(harvest.lots_sql(owner_range=True), [lo, hi])
        rows = cursor.fetchall()
    assert rows
    return elapsed()


def _naive(taxable: list[int]) -> tuple[float, int]:
    """The usual implementation: a loop per portfolio and per lot through the ORM."""
    from portfolios.models import Portfolio, Price, TaxLot
    from rebalancing.models import ReplacementPair

    lots_seen = 0
    with timer() as elapsed:
        for portfolio in Portfolio.objects.filter(pk__in=taxable[:SAMPLE]):
            by_security: dict[int, float] = {}
            for lot in TaxLot.objects.filter(portfolio=portfolio, quantity__gt=0):
                lots_seen += 1
                price = Price.objects.filter(security_id=lot.security_id).order_by("-date").first()
                loss = float(lot.cost_basis) - float(lot.quantity) * float(price.close)
                if loss > 0 and loss >= 0.05 * float(lot.cost_basis):
                    by_security[lot.security_id] = by_security.get(lot.security_id, 0.0) + loss
            for security_id, loss in by_security.items():
                if loss < 200:
                    continue
                TaxLot.objects.filter(
                    portfolio__owner_id=portfolio.owner_id,
                    security_id=security_id,
                    acquired_on__gte=ON - dt.timedelta(days=30),
                ).exists()
                ReplacementPair.objects.filter(security_id=security_id).first()
    return elapsed(), lots_seen


def run(report: Report) -> None:
    from rebalancing.models import Proposal
    from rebalancing.services import harvest

    owners, taxable = _setup()
    lo, hi = owners[0], owners[-1]

    def clear() -> None:
        Proposal.objects.filter(portfolio_id__in=taxable, kind="harvest").delete()
        vacuum()

    clear()
    batches = [
        (owners[i], owners[min(i + BATCH, len(owners)) - 1]) for i in range(0, len(owners), BATCH)
    ]

    floor = min(_floor(lo, hi) for _ in range(3))
    fetch = min(_fetchall(lo, hi) for _ in range(2))

    def scan() -> tuple[float, int, int, int]:
        created = kept = lots = 0
        with timer() as elapsed:
            for a, b in batches:
                result = harvest.scan_for_harvest(owner_range=(a, b), on=ON)
                created += result.created
                kept += result.kept
                lots += result.lots
        return elapsed(), created, kept, lots

    # Each timing is the best of two, as the floor is the best of three.
    first, created, _, lots = scan()
    clear()
    first_again, created_again, _, _ = scan()
    first = min(first, first_again)
    second, created2, kept, _ = scan()
    second = min(second, scan()[0])
    assert lots == N_HOUSEHOLDS * LOTS_PER_TAXABLE, lots
    assert created_again == created, (created_again, created)
    assert created2 == 0 and kept == created, (created2, kept, created)
    skipped = harvest.scan_for_harvest(owner_range=batches[0], on=ON, dry_run=True).skipped

    naive_seconds, naive_lots = _naive(taxable)
    naive_total = naive_seconds / naive_lots * lots

    report.add(
        "harvest scan, 1,000,000 lots, proposals written (first run)",
        first, "s",
        baseline_name="raw COPY of the same rows (floor)", baseline_value=floor,
        target="<= 3x the floor",
        note=f"{lots / first:,.0f} lots/s; {created:,} proposals created; {len(skipped)} guard skips in batch 1; "
        f"plain cursor fetchall of the rows: {fetch:.2f} s",
    )  # fmt: skip
    report.add(
        "harvest scan re-run (idempotent: every proposal kept, none written)",
        second, "s",
        baseline_name="raw COPY of the same rows (floor)", baseline_value=floor,
        target="<= 3x the floor", note=f"{kept:,} kept",
    )  # fmt: skip
    report.add(
        "naive per-portfolio ORM loop, extrapolated to 1,000,000 lots",
        naive_total, "s",
        baseline_name="set-based scan (first run)", baseline_value=first,
        note=f"measured on {SAMPLE} portfolios ({naive_lots:,} lots) in {naive_seconds:.2f} s",
    )  # fmt: skip
