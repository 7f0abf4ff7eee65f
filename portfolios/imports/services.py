"""Import services: preview (parse + validate, store the batch) and confirm (write it all).

An import is all-or-nothing: `confirm_import` and `import_file` write every row in one
database transaction or nothing at all. Positions with lots and prices are written in bulk
(COPY on PostgreSQL, bulk_create elsewhere); transaction history goes through the ledger so
cash and lots stay in step with it.
"""

import datetime as dt
import hashlib
import io
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from decimal import Decimal

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts import audit
from accounts.models import User
from advisor.core import clock, inputs
from advisor.core.copy import copy_rows
from portfolios import ledger, selectors, wash_sales
from portfolios.imports import history, layouts
from portfolios.imports.parse import HEADER_SCAN_LINES, ParseResult, Row, parse_csv, plain
from portfolios.models import ImportBatch, LotSale, Portfolio, Price, Security, TaxLot, Transaction

log = logging.getLogger(__name__)

COPY_THRESHOLD = 2_000  # below this, bulk_create is as fast and simpler


class ImportRejected(ValueError):
    """The file (or a row of it) cannot be imported; nothing was written."""

    def __init__(self, result: ParseResult) -> None:
        self.result = result
        super().__init__("; ".join(result.messages(5)) or "The file cannot be imported.")


def max_upload_bytes() -> int:
    return int(getattr(settings, "ADVISOR_IMPORT_MAX_BYTES", 50 * 1024 * 1024))


def known_tickers() -> dict[str, int]:
    return dict(Security.objects.filter(is_active=True).values_list("ticker", "id"))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- validation that needs the database ------------------------------------------------------


def _check_against_database(
    result: ParseResult, *, portfolio: Portfolio | None, digest: str, stored: bool = False
) -> None:
    """Adds the errors only the database can tell: the file was already imported, a sell of
    shares not held, a withdrawal of cash not there, an external id already in the ledger.
    `stored`: the rows come from a stored preview, and their values go through the input
    layer again (freshly parsed ones just did)."""
    if result.file_errors:
        return
    if portfolio is not None and result.kind != layouts.PRICES:
        earlier = ImportBatch.objects.filter(
            portfolio=portfolio, sha256=digest, status=ImportBatch.Status.IMPORTED
        ).first()
        if earlier is not None:
            result.file_errors.append(
                f"This file was already imported into {portfolio.name} on "
                f"{timezone.localtime(earlier.imported_at):%Y-%m-%d %H:%M}."
            )
            return
    if stored:
        _recheck_values(result)
    if result.kind == layouts.LOTS and portfolio is not None:
        _check_position_totals(result, portfolio)
    if result.kind == layouts.TRANSACTIONS and portfolio is not None:
        _simulate_ledger(result, portfolio)


# The stored value of each field and the column it is written to: checked again before writing,
# so the preview and the confirm refuse exactly the same rows.
_DECIMAL_FIELDS = {
    layouts.LOTS: {"quantity": inputs.QUANTITY, "cost_basis": inputs.MONEY},
    layouts.TRANSACTIONS: {
        "quantity": inputs.QUANTITY, "price": inputs.PRICE, "amount": inputs.MONEY,
        "fees": inputs.MONEY,
    },
    layouts.PRICES: {"close": inputs.PRICE, "adjusted_close": inputs.PRICE},
}  # fmt: skip
_DATE_FIELDS = {layouts.LOTS: "acquired_on", layouts.TRANSACTIONS: "date", layouts.PRICES: "date"}


def _recheck_values(result: ParseResult) -> None:
    """Every stored value through the input layer again (plain ASCII numbers that fit their
    column, ISO dates from 1900 to today)."""
    today = clock.today()
    decimals = _DECIMAL_FIELDS[result.kind]
    date_field = _DATE_FIELDS[result.kind]
    if result.columns is not None:
        rows: Iterable[dict] = (
            {
                name: result.columns[name][i]
                for name in (*decimals, date_field)
                if name in result.columns
            }
            for i in range(len(result.columns["line"]))
        )
        try:
            for values in rows:
                _recheck_row(values, decimals, date_field, today)
        except inputs.InputError as exc:  # the fast path has no row objects to attach it to
            result.file_errors.append(str(exc))
        return
    for row in result.valid_rows:
        try:
            if row.values.get("cash"):
                inputs.parse_decimal(str(row.values["cash"]), "cash", inputs.MONEY)
            else:
                _recheck_row(row.values, decimals, date_field, today)
        except inputs.InputError as exc:
            row.errors.append(str(exc))


def _recheck_row(values: dict, decimals: dict, date_field: str, today: dt.date) -> None:
    for name, precision in decimals.items():
        text = values.get(name)
        if text is not None:
            inputs.parse_decimal(str(text), name.replace("_", " "), precision)
    inputs.parse_date(str(values.get(date_field) or ""), "date", latest=today)


def _check_position_totals(result: ParseResult, portfolio: Portfolio) -> None:
    """Each security's shares, the file's lots plus those already held, must fit the quantity
    column (the import writes one transfer-in transaction per security with the total)."""
    held: dict[str, Decimal] = defaultdict(Decimal)
    for ticker, quantity in (
        TaxLot.objects.open()
        .filter(portfolio=portfolio)
        .values_list("security__ticker", "quantity")
    ):
        held[ticker] += quantity
    if result.columns is not None:
        pairs = zip(result.columns["ticker"], result.columns["quantity"], strict=True)
        for ticker, quantity in pairs:
            held[ticker] += Decimal(quantity)
        too_large = sorted(t for t, q in held.items() if not inputs.fits(q, inputs.QUANTITY))
        if too_large:
            result.file_errors.append(
                f"The total quantity of {', '.join(too_large)} would be more than the "
                f"{inputs.QUANTITY.integer_digits} digits a position can hold."
            )
        return
    for row in result.valid_rows:
        if row.values.get("cash"):
            continue
        ticker = str(row.values["ticker"])
        held[ticker] += Decimal(str(row.values["quantity"]))
        if not inputs.fits(held[ticker], inputs.QUANTITY):
            row.errors.append(
                f"the total quantity of {ticker} would be {plain(held[ticker])}, more than "
                f"the {inputs.QUANTITY.integer_digits} digits a position can hold"
            )


def _simulate_ledger(result: ParseResult, portfolio: Portfolio) -> None:
    """Replays the valid rows in date order against the current cash and holdings."""
    rows = sorted(result.valid_rows, key=lambda r: (r.values["date"], r.line))
    existing = set(
        Transaction.objects.filter(
            portfolio=portfolio, external_id__in=[r.values["external_id"] for r in rows]
        ).values_list("external_id", flat=True)
    )
    held: dict[str, Decimal] = defaultdict(Decimal)
    for ticker, quantity in (
        TaxLot.objects.open()
        .filter(portfolio=portfolio)
        .values_list("security__ticker", "quantity")
    ):
        held[ticker] += quantity
    cash = Portfolio.objects.values_list("cash", flat=True).get(
        pk=portfolio.pk
    )  # not the caller's copy
    for row in rows:
        values = row.values
        if values["external_id"] in existing:
            row.errors.append(f"already in the ledger (external id {values['external_id']})")
            continue
        amount = Decimal(values["amount"])  # type: ignore[arg-type]
        if values["kind"] == "sell":
            quantity = Decimal(values["quantity"])  # type: ignore[arg-type]
            if quantity > held[values["ticker"]]:  # type: ignore[index]
                row.errors.append(
                    f"sells {plain(quantity)} {values['ticker']} but only {plain(held[values['ticker']])} are held on {values['date']}"  # type: ignore[index]
                )
                continue
            held[values["ticker"]] -= quantity  # type: ignore[index]
        elif values["kind"] == "buy":
            held[values["ticker"]] += Decimal(values["quantity"])  # type: ignore[arg-type,index]
            if not inputs.fits(held[values["ticker"]], inputs.QUANTITY):  # type: ignore[index]
                row.errors.append(
                    f"the position in {values['ticker']} would be more than "
                    f"{inputs.QUANTITY.integer_digits} digits"
                )
                continue
        if not inputs.fits(cash + amount, inputs.MONEY):
            row.errors.append(
                f"the cash balance would be {cash + amount:,.2f}, more than the "
                f"{inputs.MONEY.integer_digits} digits an account can hold"
            )
            continue
        if cash + amount < 0:
            row.errors.append(
                f"needs {-amount:,.2f} cash but only {cash:,.2f} is available on {values['date']}"
            )
            continue
        cash += amount


def parse_upload(
    data: bytes,
    *,
    kind: str,
    portfolio: Portfolio | None,
    layout: str = "auto",
    today: dt.date | None = None,
    digest: str | None = None,
) -> ParseResult:
    """Parse and check `data`; `digest` is the whole file's when `data` is a sample of it."""
    result = parse_csv(
        data,
        kind=kind,
        known_tickers=known_tickers(),
        today=today or clock.today(),
        layout=layout,
        max_bytes=max_upload_bytes(),
    )
    _check_against_database(result, portfolio=portfolio, digest=digest or sha256(data))
    return result


# --- preview and confirm (the browser wizard) ------------------------------------------------


def preview_import(
    data: bytes,
    *,
    owner: User,
    kind: str,
    portfolio: Portfolio | None,
    layout: str = "auto",
    filename: str = "",
    today: dt.date | None = None,
) -> ImportBatch:
    """Parse and validate; store the batch (rows and errors) for the preview page. Writes no
    holdings, prices or transactions. A large file is previewed from its first rows only (a
    million rows parsed inside a web request would exhaust the worker): the file is kept and
    the import task parses and checks all of it."""
    if SAMPLE_FROM_BYTES < len(data) <= max_upload_bytes():
        return _preview_sample(data, owner=owner, kind=kind, portfolio=portfolio, layout=layout,
                               filename=filename, today=today)  # fmt: skip
    result = parse_upload(data, kind=kind, portfolio=portfolio, layout=layout, today=today)
    return ImportBatch.objects.create(
        owner=owner,
        portfolio=portfolio,
        kind=kind,
        layout=result.layout,
        filename=filename[:255],
        sha256=sha256(data),
        status=ImportBatch.Status.INVALID
        if result.error_count or not result.valid_rows
        else ImportBatch.Status.PREVIEW,
        row_count=len(result.valid_rows),
        error_count=result.error_count,
        file_errors=result.file_errors,
        rows=[row.as_json() for row in result.rows],
    )


SAMPLE_FROM_BYTES = 2 * 1024 * 1024
SAMPLE_ROWS = 1000


def _head(data: bytes, lines: int) -> bytes:
    """The first `lines` lines of `data` (all of it when shorter)."""
    end = 0
    for _ in range(lines):
        end = data.find(b"\n", end) + 1
        if end == 0:
            return data
    return data[:end]


def _preview_sample(
    data: bytes,
    *,
    owner: User,
    kind: str,
    portfolio: Portfolio | None,
    layout: str,
    filename: str,
    today: dt.date | None,
) -> ImportBatch:
    digest = sha256(data)
    head = _head(data, HEADER_SCAN_LINES + SAMPLE_ROWS)
    result = parse_upload(
        head, kind=kind, portfolio=portfolio, layout=layout, today=today, digest=digest
    )
    valid = result.valid_rows  # (also builds the rows of the column-wise fast path)
    rows = [row.as_json() for row in result.rows]
    first_line = int(rows[0]["line"]) if rows else 1  # type: ignore[call-overload]
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    return ImportBatch.objects.create(
        owner=owner, portfolio=portfolio, kind=kind, layout=result.layout,
        filename=filename[:255], sha256=digest,
        status=ImportBatch.Status.INVALID
        if result.error_count or not valid
        else ImportBatch.Status.PREVIEW,
        row_count=max(lines - first_line + 1, 0),  # about: footer lines count too
        error_count=result.error_count, file_errors=result.file_errors, rows=rows,
        sampled=True, data=data,
    )  # fmt: skip


def _whole_file(batch: ImportBatch) -> ParseResult:
    """A sampled batch's file, parsed and checked in full (in the task)."""
    data = ImportBatch.objects.values_list("data", flat=True).get(pk=batch.pk)
    assert data is not None  # a sampled batch keeps its file until it is imported or refused
    return parse_upload(
        bytes(data), kind=batch.kind, portfolio=batch.portfolio, layout=batch.layout,
        digest=batch.sha256,
    )  # fmt: skip


def batch_result(batch: ImportBatch) -> ParseResult:
    return ParseResult(
        kind=batch.kind,
        layout=batch.layout,
        rows=[Row.from_json(r) for r in batch.rows],
        file_errors=list(batch.file_errors),
    )


@transaction.atomic
def confirm_import(batch: ImportBatch, *, by: User | None) -> ImportBatch:
    """Write a previewed batch now, all rows or none. Confirming twice is a no-op. (The
    browser goes through `start_import` and the task instead.)"""
    batch = ImportBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.status != ImportBatch.Status.PREVIEW:
        return batch
    return _write_batch(batch, by=by)


def _write_batch(
    batch: ImportBatch, *, by: User | None, progress: Callable[[int], None] | None = None
) -> ImportBatch:
    """Check the batch again against the database and write it (inside the caller's
    transaction, with the batch row locked)."""
    if batch.sampled:
        result = _whole_file(batch)
    else:
        result = batch_result(batch)
        # The world may have changed since the preview (a ticker deactivated, a sell recorded).
        known = known_tickers()
        for row in result.valid_rows:
            ticker = row.values.get("ticker")
            if ticker and ticker not in known and not row.values.get("cash"):
                row.errors.append(f"unknown ticker {ticker!r}")
        _check_against_database(result, portfolio=batch.portfolio, digest=batch.sha256, stored=True)
    if result.error_count or not result.row_count:
        raise ImportRejected(result)
    written = write_rows(
        result, portfolio=batch.portfolio, tag=batch.sha256[:16], progress=progress
    )
    batch.status = ImportBatch.Status.IMPORTED
    batch.imported_at = clock.now()
    batch.row_count, batch.data = written, None  # the file is not kept once imported
    batch.save(update_fields=["status", "imported_at", "row_count", "data"])
    owner = batch.portfolio.owner if batch.portfolio else None
    audit.record(
        f"import.{batch.kind}",
        household=owner,
        actor=by,
        obj=batch,
        summary=f"Imported {written} {batch.get_kind_display().lower()} rows from {batch.filename or 'a CSV file'}",
        rows=written,
        layout=batch.layout,
    )
    return batch


# --- the import task: claimed once, written in one transaction, progress in the cache --------

# Sent by name: the task module imports these services. A broker that is down leaves the batch
# queued, and the sweeper (rebalancing.services.sweeper) sends it again.
RUN_IMPORT = "portfolios.tasks.run_import"
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def send_on_commit(task: str, *args: object) -> None:
    def send() -> None:
        try:
            current_app.send_task(task, args=args, retry_policy=PUBLISH_RETRY)
        except Exception:  # any broker failure: the sweeper re-sends queued batches
            log.warning("could not send %s%r; the sweeper will re-send it", task, args)

    transaction.on_commit(send)


FAILED_UNEXPECTEDLY = "The import stopped unexpectedly; nothing was written. Try again later."


def progress_key(batch_id: int) -> str:
    return f"import-progress:{batch_id}"


def progress(batch: ImportBatch) -> dict[str, int]:
    """Rows written so far by the running task, and the rows to write (cache, not database:
    the task's own transaction is invisible until it commits)."""
    done = cache.get(progress_key(batch.pk)) or 0
    return {"done": min(int(done), batch.row_count), "total": batch.row_count}


def start_import(batch: ImportBatch, *, by: User | None) -> bool:
    """Hand a previewed batch to the import task. Only the first confirm claims it (a second
    click or tab finds it queued already and enqueues nothing); returns whether this one did."""
    with transaction.atomic():
        claimed = ImportBatch.objects.filter(pk=batch.pk, status=ImportBatch.Status.PREVIEW).update(
            status=ImportBatch.Status.QUEUED, queued_at=clock.now()
        )
        if claimed:
            cache.set(progress_key(batch.pk), 0, timeout=3600)
            send_on_commit(RUN_IMPORT, batch.pk, by.pk if by else None)
    return bool(claimed)


def run_import(batch_id: int, *, by_id: int | None) -> str:
    """The task's work: write a queued batch once. A redelivered or concurrent run waits for
    the batch row, then finds it imported and does nothing; a worker that dies mid-way rolls
    back and leaves it queued for the redelivery. A refused batch is marked invalid with its
    reasons, and nothing is written."""
    try:
        with transaction.atomic():
            batch = (
                ImportBatch.objects.select_for_update(of=("self",))
                .select_related("portfolio__owner")
                .filter(pk=batch_id)
                .first()
            )
            if batch is None or batch.status != ImportBatch.Status.QUEUED:
                return "nothing to do"
            by = User.objects.filter(pk=by_id).first() if by_id else None

            def report(done: int) -> None:
                cache.set(progress_key(batch_id), done, timeout=3600)

            _write_batch(batch, by=by, progress=report)
            report(batch.row_count)
        return "imported"
    except ImportRejected as exc:
        _mark_failed(batch_id, exc.result.messages(50), exc.result.error_count)
        return "rejected"
    except Exception:
        _mark_failed(batch_id, [FAILED_UNEXPECTEDLY], 1)
        raise


def resend_queued_imports(*, before: dt.datetime) -> int:
    """Send the task again for batches queued before `before` that no worker is writing (a
    running import holds its batch row locked and is skipped): the broker was down at the
    confirm, or a worker died with the message. Returns how many were sent."""
    with transaction.atomic():
        stalled = list(
            ImportBatch.objects.select_for_update(skip_locked=True)
            .filter(status=ImportBatch.Status.QUEUED, queued_at__lte=before)
            .values_list("pk", "owner_id")
        )
        for pk, owner_id in stalled:
            send_on_commit(RUN_IMPORT, pk, owner_id)
    return len(stalled)


def _mark_failed(batch_id: int, messages: list[str], error_count: int) -> None:
    ImportBatch.objects.filter(pk=batch_id, status=ImportBatch.Status.QUEUED).update(
        status=ImportBatch.Status.INVALID,
        file_errors=messages,
        error_count=max(error_count, 1),
        data=None,
    )


def import_file(
    data: bytes,
    *,
    kind: str,
    portfolio: Portfolio | None,
    layout: str = "auto",
    today: dt.date | None = None,
    by: User | None = None,
    filename: str = "",
) -> ParseResult:
    """Parse, validate and write in one step (the management command and the benchmark).
    Raises ImportRejected, writing nothing, when any row has an error."""
    result = parse_upload(data, kind=kind, portfolio=portfolio, layout=layout, today=today)
    if result.error_count or not result.row_count:
        raise ImportRejected(result)
    digest = sha256(data)
    with transaction.atomic():
        written = write_rows(result, portfolio=portfolio, tag=digest[:16])
        batch = ImportBatch.objects.create(
            owner=by if by is not None else (portfolio.owner if portfolio else None),
            portfolio=portfolio,
            kind=kind,
            layout=result.layout,
            filename=filename[:255],
            sha256=digest,
            status=ImportBatch.Status.IMPORTED,
            row_count=written,
            imported_at=clock.now(),
        )
        audit.record(
            f"import.{kind}",
            household=portfolio.owner if portfolio else None,
            actor=by,
            obj=batch,
            summary=f"Imported {written} rows from {filename or 'a CSV file'} (command line)",
            rows=written,
            layout=result.layout,
        )
    return result


# --- writers ---------------------------------------------------------------------------------


def write_rows(
    result: ParseResult,
    *,
    portfolio: Portfolio | None,
    tag: str,
    progress: Callable[[int], None] | None = None,
) -> int:
    if result.kind == layouts.LOTS:
        assert portfolio is not None
        if result.columns is not None:
            return _write_lots(portfolio, result.columns, tag=tag)
        rows = [row for row in result.valid_rows if not row.values.get("cash")]
        names = ("ticker", "quantity", "cost_basis", "acquired_on")
        columns = {name: [row.values[name] for row in rows] for name in names}
        cash = [
            Decimal(str(row.values["cash"])) for row in result.valid_rows if row.values.get("cash")
        ]
        written = _write_lots(portfolio, columns, tag=tag) if rows else 0
        if cash:
            _write_cash(portfolio, sum(cash, Decimal("0")), tag=tag)
        return written + len(cash)
    rows = result.valid_rows
    if result.kind == layouts.TRANSACTIONS:
        assert portfolio is not None
        return _write_transactions(portfolio, rows, progress)
    return _write_prices(rows)


def _write_lots(portfolio: Portfolio, columns: dict[str, list], *, tag: str) -> int:
    """Positions arrive with their own basis and dates: one transfer-in transaction per security
    (no cash moves; dated on its newest lot's acquisition), and every lot opened by it.
    `columns` holds the validated values as strings: ticker, quantity, cost_basis, acquired_on."""
    tickers = known_tickers()
    now = clock.now()
    Portfolio.objects.select_for_update().filter(pk=portfolio.pk).first()
    security_ids = [tickers[t] for t in columns["ticker"]]
    quantities, bases, days = columns["quantity"], columns["cost_basis"], columns["acquired_on"]
    totals: dict[int, list] = {}
    for sid, quantity, day in zip(security_ids, quantities, days, strict=True):
        total = totals.setdefault(sid, [Decimal("0"), day, 0])
        total[0] += Decimal(quantity)
        total[1] = max(total[1], day)
        total[2] += 1
    ticker_of = {sid: ticker for ticker, sid in tickers.items()}
    transfers = Transaction.objects.bulk_create(
        [
            Transaction(
                portfolio=portfolio,
                kind=Transaction.Kind.TRANSFER_IN,
                trade_date=dt.date.fromisoformat(newest),
                security_id=sid,
                quantity=quantity,
                amount=Decimal("0.00"),
                source=Transaction.Source.IMPORT,
                external_id=f"lots:{tag}:{ticker_of[sid]}",
                note=f"{count} lot{'s' if count != 1 else ''} imported",
            )
            for sid, (quantity, newest, count) in totals.items()
        ]
    )
    opened_by = {txn.security_id: txn.pk for txn in transfers if txn.security_id is not None}
    _write_lot_rows(portfolio, security_ids, quantities, bases, days, opened_by, now)
    _apply_wash_sales(portfolio, security_ids, days)
    return len(security_ids)


def _write_cash(portfolio: Portfolio, amount: Decimal, *, tag: str) -> None:
    """The positions file's money-market (core) and cash lines: the account's cash arrives
    with its holdings, as one transfer-in of cash dated today (the file is as of today)."""
    if amount > 0:
        ledger.record_cash(
            portfolio, kind=Transaction.Kind.TRANSFER_IN, amount=amount, trade_date=clock.today(),
            source=Transaction.Source.IMPORT, external_id=f"lots:{tag}:cash",
            note="Cash and money-market lines of the positions file",
        )  # fmt: skip


def _apply_wash_sales(portfolio: Portfolio, security_ids: list[int], days: list[str]) -> None:
    """Imported lots can be replacement shares for a loss sale in the household (a wash sale).
    The ledger checks every buy; here only (security, acquisition day) pairs within 30 days of
    one of the household's taxable loss sales are checked, which for most imports is none."""
    losses = list(
        LotSale.objects.filter(
            transaction__portfolio__owner_id=portfolio.owner_id,
            transaction__portfolio__tax_treatment=Portfolio.TaxTreatment.TAXABLE,
            cost_basis__gt=F("proceeds"),
        ).values_list("transaction__security_id", "transaction__trade_date")
    )
    if not losses:
        return
    window = wash_sales.WINDOW
    groups = selectors.identical_groups()
    days_of: dict[int, set[str]] = defaultdict(set)
    for sid, day in zip(security_ids, days, strict=True):
        days_of[sid].add(day)
    for sid, lot_days in days_of.items():
        related = set(groups.identical_to(sid))
        sale_dates = [d for s, d in losses if s in related]
        for text in sorted(lot_days):
            acquired = dt.date.fromisoformat(text)
            if any(abs(acquired - sold) <= window for sold in sale_dates):
                wash_sales.apply_wash_sales(
                    household_id=portfolio.owner_id, security_id=sid, on=acquired
                )


def _write_lot_rows(
    portfolio: Portfolio,
    security_ids: list[int],
    quantities: list[str],
    bases: list[str],
    days: list[str],
    opened_by: dict[int, int],
    now: dt.datetime,
) -> None:
    if connection.vendor == "postgresql" and len(security_ids) >= COPY_THRESHOLD:
        names = ["portfolio_id", "security_id", "quantity", "original_quantity", "cost_basis", "acquired_on",
                 "holding_start", "wash_sale_adjustment", "opened_by_id", "created_at"]  # fmt: skip
        pid = portfolio.pk
        records = (
            (pid, sid, q, q, b, d, d, "0.00", opened_by[sid], now)
            for sid, q, b, d in zip(security_ids, quantities, bases, days, strict=True)
        )
        copy_rows(TaxLot._meta.db_table, names, records)
        return
    TaxLot.objects.bulk_create(
        [
            TaxLot(
                portfolio=portfolio,
                security_id=sid,
                quantity=Decimal(q),
                original_quantity=Decimal(q),
                cost_basis=Decimal(b),
                acquired_on=dt.date.fromisoformat(d),
                holding_start=dt.date.fromisoformat(d),
                opened_by_id=opened_by[sid],
            )
            for sid, q, b, d in zip(security_ids, quantities, bases, days, strict=True)
        ],
        batch_size=5000,
    )


def _write_transactions(
    portfolio: Portfolio, rows: list[Row], progress: Callable[[int], None] | None = None
) -> int:
    """The history through the ledger's rules, set-based (see `history`): all rows or none."""
    ordered = sorted(rows, key=lambda r: (r.values["date"], r.line))
    entries = [_entry(row.values) for row in ordered]
    try:
        return history.record_history(portfolio, entries, progress=progress)
    except history.HistoryError as exc:
        # Raising inside the caller's atomic block rolls back every row written so far.
        row = ordered[exc.index]
        row.errors.append(str(exc))
        raise ImportRejected(ParseResult(kind=layouts.TRANSACTIONS, layout="", rows=[row])) from exc


def _entry(v: dict[str, str | None]) -> history.Entry:
    def number(name: str) -> Decimal | None:
        text = v.get(name)
        return None if text is None or text == "" else Decimal(text)

    return history.Entry(
        kind=str(v["kind"]),
        date=dt.date.fromisoformat(str(v["date"])),
        ticker=v.get("ticker") or None,
        quantity=number("quantity"),
        price=number("price"),
        amount=number("amount") or Decimal("0"),
        fees=number("fees") or Decimal("0"),
        external_id=str(v["external_id"]),
        note=v.get("note") or "",
    )


def _write_prices(rows: list[Row]) -> int:
    """Upsert on (security, date): importing the same prices twice changes nothing."""
    tickers = known_tickers()
    objs = [
        Price(
            security_id=tickers[r.values["ticker"]],  # type: ignore[index]
            date=dt.date.fromisoformat(r.values["date"]),  # type: ignore[arg-type]
            close=Decimal(r.values["close"]),  # type: ignore[arg-type]
            adjusted_close=Decimal(r.values["adjusted_close"])
            if r.values["adjusted_close"]
            else None,
            source="import",
        )
        for r in rows
    ]
    Price.objects.bulk_create(
        objs,
        batch_size=5000,
        update_conflicts=True,
        unique_fields=["security", "date"],
        update_fields=["close", "adjusted_close", "source"],
    )
    return len(objs)


def csv_bytes(header: list[str], records: Iterable[Iterable[object]]) -> bytes:
    """A small helper for tests, the demo and the benchmark: rows -> CSV bytes."""
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(records)
    return buffer.getvalue().encode()
