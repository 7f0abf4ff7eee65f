"""Confirmed imports run as a Celery task: claimed once, all-or-nothing, progress in the cache."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum

from portfolios import ledger, tasks
from portfolios.imports import services as imports
from portfolios.models import ImportBatch, Portfolio, TaxLot, Transaction
from tests.conftest import wait_for

HEADER = ["date", "kind", "ticker", "quantity", "price", "amount", "fees", "external_id"]


def history(today: dt.date, n_buys: int = 30) -> bytes:
    start = today - dt.timedelta(days=n_buys + 10)
    deposit = max(100_000, n_buys * 400)
    rows = [[start.isoformat(), "deposit", "", "", "", str(deposit), "", "d"]]
    for i in range(n_buys):
        day = (start + dt.timedelta(days=i + 1)).isoformat()
        rows.append([day, "buy", "VTI" if i % 2 else "BND", "3", "100", "", "", f"b{i}"])
    rows.append([(today - dt.timedelta(days=2)).isoformat(), "sell", "VTI", "5", "90", "", "", "s"])
    return imports.csv_bytes(HEADER, rows)


def written(account: Portfolio) -> tuple[int, int, Decimal]:
    account.refresh_from_db()
    return (
        Transaction.objects.filter(portfolio=account).count(),
        TaxLot.objects.filter(portfolio=account).count(),
        account.cash,
    )


@pytest.mark.django_db
def test_confirming_twice_enqueues_the_task_once(
    account: Portfolio, today: dt.date, django_capture_on_commit_callbacks
) -> None:
    batch = imports.preview_import(
        history(today), owner=account.owner, kind="transactions", portfolio=account
    )
    with django_capture_on_commit_callbacks() as callbacks:
        assert imports.start_import(batch, by=account.owner)
        assert not imports.start_import(batch, by=account.owner)  # a second click or tab
    assert len(callbacks) == 1
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.QUEUED
    assert imports.progress(batch) == {"done": 0, "total": 32}
    assert written(account) == (0, 0, Decimal("0.00"))  # nothing until the task runs


@pytest.mark.django_db
def test_the_task_imports_once_and_a_redelivery_does_nothing(
    account: Portfolio, today: dt.date
) -> None:
    batch = imports.preview_import(
        history(today), owner=account.owner, kind="transactions", portfolio=account
    )
    imports.start_import(batch, by=account.owner)
    assert tasks.run_import(batch.pk, account.owner.pk) == "imported"
    first = written(account)
    # 100000 - 30 buys x 300 + 5 x 90 = 91450.00. The 5 VTI sold at a loss were bought back
    # within 30 days (a 3-share lot and 2 of the next 3-share lot): that lot splits, 31 lots.
    assert first == (32, 31, Decimal("91450.00"))
    assert tasks.run_import(batch.pk, account.owner.pk) == "nothing to do"
    assert written(account) == first
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.IMPORTED
    assert imports.progress(batch) == {"done": 32, "total": 32}


@pytest.mark.django_db
def test_a_batch_that_fails_in_the_task_writes_nothing_and_says_why(
    account: Portfolio, today: dt.date
) -> None:
    data = imports.csv_bytes(
        HEADER,
        [
            [(today - dt.timedelta(days=9)).isoformat(), "deposit", "", "", "", "500", "", "d"],
            [(today - dt.timedelta(days=8)).isoformat(), "buy", "VTI", "4", "100", "", "", "b"],
        ],
    )
    batch = imports.preview_import(
        data, owner=account.owner, kind="transactions", portfolio=account
    )
    imports.start_import(batch, by=account.owner)
    # Between the preview and the task, the same deposit id arrives through another import.
    ledger.record_cash(
        account, kind="deposit", amount=Decimal("500"), trade_date=today - dt.timedelta(days=9),
        external_id="d", source=Transaction.Source.IMPORT,
    )  # fmt: skip
    before = written(account)
    assert tasks.run_import(batch.pk, account.owner.pk) == "rejected"
    assert written(account) == before
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.INVALID
    assert batch.file_errors == ["line 2: already in the ledger (external id d)"]


@pytest.mark.celery_worker
def test_a_real_worker_imports_a_batch_delivered_twice_exactly_once(
    start_celery_worker, user, securities, today: dt.date
) -> None:
    account = Portfolio.objects.create(owner=user, name="Worker taxable")
    batch = imports.preview_import(
        history(today, n_buys=400), owner=user, kind="transactions", portfolio=account
    )
    start_celery_worker(concurrency=2)
    imports.start_import(batch, by=user)  # enqueued on commit (autocommit here)
    tasks.run_import.delay(batch.pk, user.pk)  # and a redelivery at the same time

    status = wait_for(
        lambda: (
            ImportBatch.objects.filter(pk=batch.pk)
            .exclude(status=ImportBatch.Status.QUEUED)
            .values_list("status", flat=True)
            .first()
        ),
        timeout=60,
    )
    assert status == ImportBatch.Status.IMPORTED
    count, lots, cash = written(account)
    assert (count, lots) == (402, 401)  # one lot split by the wash sale, as above
    assert Transaction.objects.filter(portfolio=account).aggregate(s=Sum("amount"))["s"] == cash


@pytest.mark.django_db
def test_the_sweeper_resends_a_batch_left_queued_but_not_a_fresh_one(
    account: Portfolio, today: dt.date, django_capture_on_commit_callbacks
) -> None:
    from advisor.core import clock

    batch = imports.preview_import(
        history(today), owner=account.owner, kind="transactions", portfolio=account
    )
    imports.start_import(batch, by=account.owner)  # the broker never got it
    with django_capture_on_commit_callbacks() as callbacks:
        assert imports.resend_queued_imports(before=clock.now() - dt.timedelta(minutes=1)) == 0
        assert imports.resend_queued_imports(before=clock.now() + dt.timedelta(minutes=1)) == 1
    assert len(callbacks) == 1


def lots_file(n: int, *, last: str = "") -> bytes:
    """`n` distinct canonical lot rows (and an optional last line)."""
    lines = [b"ticker,quantity,cost_basis,acquired_on\n"]
    lines += [f"VTI,{i % 1000 + 1},{i // 1000 + 1}.00,2024-01-02\n".encode() for i in range(n)]
    return b"".join(lines) + last.encode()


@pytest.mark.django_db
def test_a_million_row_lots_file_is_previewed_from_its_first_rows_in_bounded_memory(
    account: Portfolio,
) -> None:
    import tracemalloc

    data = lots_file(1_000_000)
    assert 20 * 2**20 < len(data) < imports.max_upload_bytes()
    tracemalloc.start()
    batch = imports.preview_import(data, owner=account.owner, kind="lots", portfolio=account)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # Parsing all of it takes gigabytes of row objects; the preview holds the file, the copies
    # the database driver makes to send it (hex-encoded bytea), and a sample.
    assert peak < 8 * len(data), f"{peak / 2**20:.0f} MB"
    assert batch.sampled and batch.status == ImportBatch.Status.PREVIEW
    assert batch.row_count == 1_000_000
    assert len(batch.rows) <= imports.SAMPLE_ROWS + imports.HEADER_SCAN_LINES
    assert TaxLot.objects.count() == 0


@pytest.mark.django_db
def test_a_large_file_is_checked_whole_by_the_task_and_a_late_bad_row_writes_nothing(
    account: Portfolio, monkeypatch
) -> None:
    monkeypatch.setattr(imports, "SAMPLE_FROM_BYTES", 10_000)
    bad = lots_file(3000, last="NOPE,1,1.00,2024-01-02\n")
    batch = imports.preview_import(bad, owner=account.owner, kind="lots", portfolio=account)
    assert batch.sampled and batch.status == ImportBatch.Status.PREVIEW  # the sample is clean
    imports.start_import(batch, by=account.owner)
    assert tasks.run_import(batch.pk, account.owner.pk) == "rejected"
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.INVALID
    assert batch.file_errors == ["line 3002: unknown ticker 'NOPE'"]
    assert TaxLot.objects.count() == 0 and Transaction.objects.count() == 0

    good = imports.preview_import(
        lots_file(3000), owner=account.owner, kind="lots", portfolio=account
    )
    imports.start_import(good, by=account.owner)
    assert tasks.run_import(good.pk, account.owner.pk) == "imported"
    good.refresh_from_db()
    assert good.row_count == 3000 and good.data is None
    assert TaxLot.objects.filter(portfolio=account).count() == 3000
