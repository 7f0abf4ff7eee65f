"""Transaction history imports at scale.

Import 1,000, 10,000 and 100,000 transactions (deposits, buys, sells at gains and losses with
the sold shares often bought back inside 30 days, i.e. wash sales, dividends) through the same
service as the wizard's task and `manage.py import_csv`: parse, validate, replay the ledger's
lot relief and wash-sale rules, write transactions, lots, lot sales, wash-sale matches and
blocks. The rows arrive at the same density (40 a trading day) whatever the size, so a flat
time per row means the import is linear in its rows. Baseline: a raw psycopg COPY of the same
transaction rows (already parsed; no lots, no validation) in the same run.
"""

import csv
import datetime as dt
import io
from decimal import Decimal

import numpy as np
import psycopg
from django.db import connection

from advisor.core import clock
from benchmarks import Report, timer

SIZES = (1_000, 10_000, 100_000)
N_SECURITIES = 20
ROWS_PER_DAY = 40
HEADER = ["date", "kind", "ticker", "quantity", "price", "amount", "fees", "external_id"]


def _fixtures() -> tuple[object, list[int]]:
    from accounts.models import User
    from portfolios.models import AssetClass, Security

    user, _ = User.objects.get_or_create(email="bench-imports@example.com")
    cls, _ = AssetClass.objects.get_or_create(code="bench", defaults={"name": "Bench"})
    ids = []
    for i in range(N_SECURITIES):
        security, _ = Security.objects.get_or_create(
            ticker=f"BH{i:03d}", defaults={"name": f"Bench history {i}", "asset_class": cls}
        )
        ids.append(security.pk)
    _clear(user.pk)
    return user, ids


def _clear(owner_id: int) -> None:
    """Delete the bench household's ledger with a few SQL statements (the ORM's cascade would
    load every row; lots are PROTECTed by their sales)."""
    from portfolios.models import (
        ImportBatch,
        LotSale,
        Portfolio,
        TaxLot,
        Transaction,
        WashSaleBlock,
        WashSaleMatch,
    )

    mine = f"SELECT id FROM {Portfolio._meta.db_table} WHERE owner_id = %s"
    txns = f"SELECT id FROM {Transaction._meta.db_table} WHERE portfolio_id IN ({mine})"
    statements = [
        f"DELETE FROM {WashSaleMatch._meta.db_table} WHERE lot_sale_id IN "
        f"(SELECT id FROM {LotSale._meta.db_table} WHERE transaction_id IN ({txns}))",
        f"DELETE FROM {WashSaleBlock._meta.db_table} WHERE household_id = %s",
        f"DELETE FROM {LotSale._meta.db_table} WHERE transaction_id IN ({txns})",
        f"DELETE FROM {TaxLot._meta.db_table} WHERE portfolio_id IN ({mine})",
        f"DELETE FROM {Transaction._meta.db_table} WHERE portfolio_id IN ({mine})",
        f"DELETE FROM {ImportBatch._meta.db_table} WHERE portfolio_id IN ({mine})",
        f"DELETE FROM {Portfolio._meta.db_table} WHERE owner_id = %s",
    ]
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql, [owner_id])


def history(n: int, rng: np.random.Generator, end: dt.date) -> list[list[str]]:
    """`n` rows ending on `end`, 40 a day: a deposit a day, dividends, and per security
    alternating 180-day phases of buying and of selling (at gains and losses, tax-minimising
    lots first); sales at a loss within 30 days of the other phase's buys are wash sales."""
    days = -(-n // ROWS_PER_DAY)
    price = rng.uniform(20, 300, N_SECURITIES)
    phase_offset = rng.integers(0, 360, N_SECURITIES)
    held = np.zeros(N_SECURITIES, dtype=int)
    rows: list[list[str]] = []
    day = end - dt.timedelta(days=days + 1)
    count = 0
    while len(rows) < n:
        day += dt.timedelta(days=1)
        count += 1
        price *= np.exp(rng.normal(0, 0.02, N_SECURITIES))
        buying = ((count + phase_offset) // 180) % 2 == 0
        rows.append(
            [
                day.isoformat(),
                "deposit",
                "",
                "",
                "",
                "100000" if rows else "1000000",
                "",
                f"d{len(rows)}",
            ]
        )
        for _ in range(ROWS_PER_DAY - 1):
            if len(rows) >= n:
                break
            i = int(rng.integers(N_SECURITIES))
            p, ticker, ref = f"{price[i]:.2f}", f"BH{i:03d}", f"r{len(rows)}"
            if rng.random() < 0.05:
                rows.append(
                    [day.isoformat(), "dividend", ticker, "", "", f"{price[i] / 10:.2f}", "", ref]
                )
            elif not buying[i] and held[i] > 0:
                q = int(rng.integers(1, min(held[i], 30) + 1))
                held[i] -= q
                rows.append([day.isoformat(), "sell", ticker, str(q), p, "", "1.00", ref])
            else:  # buying, or selling with nothing left to sell
                q = int(rng.integers(1, 20))
                held[i] += q
                rows.append([day.isoformat(), "buy", ticker, str(q), p, "", "", ref])
    return rows[:n]


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _raw_copy(portfolio_id: int, ids: list[int], rows: list[list[str]]) -> float:
    """Seconds for a psycopg COPY of the same rows into the transaction table, committed."""
    from portfolios.models import Transaction

    now = clock.now()
    settings = connection.settings_dict
    copy_sql = (
        f"COPY {Transaction._meta.db_table} (portfolio_id, kind, trade_date, security_id, quantity,"
        " price, fees, amount, lot_relief_method, source, external_id, note, created_at) FROM STDIN"
    )
    sign = {"buy": -1, "sell": 1}
    with (
        psycopg.connect(
            host=settings["HOST"] or "127.0.0.1", port=settings["PORT"] or 5432,
            user=settings["USER"], dbname=settings["NAME"],
        ) as raw_conn,
        timer() as elapsed,
    ):  # fmt: skip
        with raw_conn.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for day, kind, ticker, q, p, amount, fees, ref in rows:
                if kind in sign:
                    amount = str(sign[kind] * Decimal(q) * Decimal(p))
                security = ids[int(ticker[2:])] if ticker else None
                copy.write_row(
                    (portfolio_id, kind, day, security, q or None, p or None, fees or "0",
                     amount, "", "import", f"raw-{ref}", "", now)
                )  # fmt: skip
        raw_conn.commit()
    return elapsed()


def _row_by_row(portfolio: object, rows: list[list[str]]) -> float:
    """Seconds to record the rows one by one through the ledger, in one transaction: how
    imports wrote a history before the set-based replay."""
    import datetime as dt
    from decimal import Decimal

    from django.db import transaction

    from portfolios import ledger
    from portfolios.models import Security, Transaction

    securities = {s.ticker: s for s in Security.objects.filter(ticker__startswith="BH")}
    with timer() as elapsed, transaction.atomic():
        for day, kind, ticker, q, p, amount, fees, ref in rows:
            common = {"trade_date": dt.date.fromisoformat(day), "external_id": ref,
                      "source": Transaction.Source.IMPORT}  # fmt: skip
            if kind in ("buy", "sell"):
                record = ledger.record_buy if kind == "buy" else ledger.record_sell
                record(portfolio, security=securities[ticker], quantity=Decimal(q),
                       price=Decimal(p), fees=Decimal(fees or "0"), **common)  # fmt: skip
            else:
                ledger.record_cash(portfolio, kind=kind, amount=Decimal(amount),
                                   security=securities.get(ticker), **common)  # fmt: skip
    return elapsed()


def bench_history(report: Report) -> None:
    from portfolios.imports import services as imports
    from portfolios.models import Portfolio, Transaction

    user, ids = _fixtures()
    rng = np.random.default_rng(11)
    today = clock.today()
    per_row = {}
    for n in SIZES:
        rows = history(n, rng, today)
        data = _csv(rows)
        portfolio = Portfolio.objects.create(owner=user, name=f"History {n}")
        with timer() as elapsed:
            imports.import_file(
                data, kind="transactions", portfolio=portfolio, by=user, filename="bench.csv"
            )
        seconds = elapsed()
        assert Transaction.objects.filter(portfolio=portfolio).count() == n
        raw = Portfolio.objects.create(owner=user, name=f"Raw {n}")
        raw_seconds = _raw_copy(raw.pk, ids, rows)
        per_row[n] = seconds / n
        if n == SIZES[0]:
            ledger_seconds = _row_by_row(Portfolio.objects.create(owner=user, name="Ledger"), rows)
            report.add(
                f"import {n:,} transactions, set-based",
                n / seconds, "rows/s",
                baseline_name="the same rows one by one through the ledger (the previous path)",
                baseline_value=n / ledger_seconds,
                note=f"{seconds:.2f} s vs {ledger_seconds:.2f} s",
            )  # fmt: skip
        report.add(
            f"import {n:,} transactions (parse + validate + ledger replay + COPY)",
            n / seconds, "rows/s",
            baseline_name="raw psycopg COPY of the same transaction rows",
            baseline_value=n / raw_seconds,
            target=">= 5,000 rows/s" if n == SIZES[-1] else "",
            note=f"{seconds:.2f} s vs {raw_seconds:.2f} s; {seconds / n * 1e6:,.0f} us a row",
        )  # fmt: skip
    report.add(
        "time per row, 100,000 rows vs 1,000 rows",
        per_row[SIZES[-1]] / per_row[SIZES[0]], "x",
        target="about 1 (linear in rows)",
        note=", ".join(f"{n:,}: {t * 1e6:,.0f} us" for n, t in per_row.items()),
    )  # fmt: skip
    _clear(user.pk)


def run(report: Report) -> None:
    bench_history(report)
