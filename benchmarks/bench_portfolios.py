"""Portfolio data at scale.

1. Import 100,000 tax lots from a canonical CSV through the same service as the wizard and
   `manage.py import_csv` (parse, validate, write lots + their transfer-in transactions with
   COPY). Baseline: a raw psycopg COPY of the same 100,000 lot rows (no parsing, no validation,
   no transactions), i.e. the floor for getting those rows into PostgreSQL.
2. Load the price history of 50 securities x 20 years (~252,000 closes) into a wide DataFrame
   with `selectors.price_history`. Baseline: a raw cursor fetch of the same rows.
"""

import csv
import datetime as dt
import io

import numpy as np
import psycopg
from django.db import connection

from advisor.core import clock
from benchmarks import Report, best_of, timer

N_LOTS = 100_000
N_SECURITIES = 50
YEARS = 20


def _fixtures() -> tuple[object, list[int]]:
    from accounts.models import User
    from portfolios.models import AssetClass, Portfolio, Security

    user, _ = User.objects.get_or_create(email="bench@example.com")
    cls, _ = AssetClass.objects.get_or_create(code="bench", defaults={"name": "Bench"})
    ids = []
    for i in range(N_SECURITIES):
        security, _ = Security.objects.get_or_create(
            ticker=f"BN{i:03d}", defaults={"name": f"Bench {i}", "asset_class": cls}
        )
        ids.append(security.pk)
    Portfolio.objects.filter(owner=user).delete()
    portfolio = Portfolio.objects.create(owner=user, name="Bench")
    return portfolio, ids


def _lots_csv(rng: np.random.Generator) -> tuple[bytes, list[tuple[object, ...]]]:
    tickers = rng.integers(0, N_SECURITIES, N_LOTS)
    quantity = np.round(rng.uniform(0.5, 500, N_LOTS), 4)
    basis = np.round(quantity * rng.uniform(20, 400, N_LOTS), 2)
    start = np.datetime64("2005-01-03")
    days = start + rng.integers(0, 7000, N_LOTS).astype("timedelta64[D]")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["ticker", "quantity", "cost_basis", "acquired_on"])
    rows = []
    for t, q, b, d in zip(tickers, quantity, basis, days.astype(str), strict=True):
        writer.writerow([f"BN{t:03d}", f"{q:.4f}", f"{b:.2f}", d])
        rows.append((int(t), f"{q:.4f}", f"{b:.2f}", d))
    return buffer.getvalue().encode(), rows


def bench_import(report: Report) -> None:
    from portfolios.imports import services as imports
    from portfolios.models import TaxLot, Transaction

    portfolio, ids = _fixtures()
    data, rows = _lots_csv(np.random.default_rng(7))
    with timer() as elapsed:
        imports.import_file(
            data, kind="lots", portfolio=portfolio, by=portfolio.owner, filename="bench.csv"
        )
    seconds = elapsed()
    assert TaxLot.objects.filter(portfolio=portfolio).count() == N_LOTS
    assert (
        Transaction.objects.filter(portfolio=portfolio).count() == N_SECURITIES
    )  # one transfer-in each

    # Baseline: the same lot rows, already parsed, COPY'd straight into the lot table.
    now = clock.now()
    TaxLot.objects.filter(portfolio=portfolio).delete()
    settings = connection.settings_dict
    copy_sql = (
        f"COPY {TaxLot._meta.db_table} (portfolio_id, security_id, quantity, original_quantity, cost_basis,"
        " acquired_on, holding_start, wash_sale_adjustment, created_at) FROM STDIN"
    )
    with (
        psycopg.connect(
            host=settings["HOST"] or "127.0.0.1",
            port=settings["PORT"] or 5432,
            user=settings["USER"],
            dbname=settings["NAME"],
        ) as raw_conn,
        timer() as raw_elapsed,
    ):
        with raw_conn.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for t, q, b, d in rows:
                copy.write_row((portfolio.pk, ids[t], q, q, b, d, d, "0.00", now))
        raw_conn.commit()  # the deferred foreign-key checks run here, as in the import
    raw_seconds = raw_elapsed()
    report.add(
        "import 100,000 lots from CSV (parse + validate + write lots and transfers)",
        N_LOTS / seconds, "rows/s",
        baseline_name="raw psycopg COPY of the lot rows only", baseline_value=N_LOTS / raw_seconds,
        target=">= 20,000 rows/s", note=f"{seconds:.2f} s vs {raw_seconds:.2f} s",
    )  # fmt: skip
    portfolio.delete()


def bench_price_history(report: Report) -> None:
    from portfolios import selectors
    from portfolios.imports.services import copy_rows
    from portfolios.models import Price

    _, ids = _fixtures()
    end = dt.date(2026, 11, 20)
    days = np.arange(np.datetime64("2006-11-20"), np.datetime64(end) + 1)
    days = days[np.is_busday(days)]
    expected = len(days) * N_SECURITIES
    if Price.objects.filter(security_id__in=ids).count() != expected:
        Price.objects.filter(security_id__in=ids).delete()
        rng = np.random.default_rng(11)
        paths = 100 * np.exp(
            np.cumsum(rng.normal(0.0003, 0.012, (len(days), N_SECURITIES)), axis=0)
        )
        day_strings = days.astype(str)
        copy_rows(
            Price._meta.db_table, ["security_id", "date", "close", "source"],
            ((sid, day_strings[i], f"{paths[i, j]:.6f}", "bench") for j, sid in enumerate(ids) for i in range(len(days))),
        )  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Price._meta.db_table}")

    frame = selectors.price_history(ids)
    assert frame.shape == (len(days), N_SECURITIES), frame.shape
    seconds = best_of(5, lambda: selectors.price_history(ids))

    def raw() -> list[tuple[object, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT security_id, date, close FROM {Price._meta.db_table} WHERE security_id = ANY(%s)",
                [ids],
            )
            return cursor.fetchall()

    raw_seconds = best_of(5, raw)
    fast = selectors.price_frame(ids)
    assert fast.equals(frame), "price_frame and price_history disagree"
    fast_seconds = best_of(5, lambda: selectors.price_frame(ids))
    report.add(
        f"selectors.price_frame: 50 securities x 20 years ({expected:,} closes) -> DataFrame",
        fast_seconds, "s",
        baseline_name="raw cursor fetch of the same rows", baseline_value=raw_seconds,
        target="< 0.5 s", note=f"{expected / fast_seconds:,.0f} rows/s",
    )  # fmt: skip
    report.add(
        f"selectors.price_history (pivot): 50 securities x 20 years ({expected:,} closes) -> DataFrame",
        seconds, "s",
        baseline_name="raw cursor fetch of the same rows", baseline_value=raw_seconds,
        target="< 0.5 s", note=f"{expected / seconds:,.0f} rows/s",
    )  # fmt: skip


def run(report: Report) -> None:
    bench_import(report)
    bench_price_history(report)
