"""CSV imports: every bad input gets a clear message and writes nothing; good files write all."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum

from accounts.models import AuditEvent
from portfolios.imports import services as imports
from portfolios.imports.parse import parse_csv
from portfolios.models import ImportBatch, Portfolio, Price, TaxLot, Transaction
from tests.portfolios.conftest import TODAY

pytestmark = pytest.mark.django_db

LOTS_HEADER = b"ticker,quantity,cost_basis,acquired_on\n"


def counts() -> tuple[int, int, int, int]:
    return (
        TaxLot.objects.count(),
        Transaction.objects.count(),
        Price.objects.count(),
        AuditEvent.objects.count(),
    )


BAD_LOT_FILES = [
    (b"", "The file is empty."),
    (b"   \n\n", "The file is empty."),
    (LOTS_HEADER, "header but no data rows"),
    (b"foo,bar\n1,2\n", "No header row with the expected columns"),
    (LOTS_HEADER + b"ZZZZ,10,1000,2024-01-02\n", "unknown ticker 'ZZZZ'"),
    (LOTS_HEADER + b"VTI,-5,1000,2024-01-02\n", "quantity -5 must be more than zero"),
    (LOTS_HEADER + b"VTI,0,1000,2024-01-02\n", "quantity 0 must be more than zero"),
    (LOTS_HEADER + b"VTI,ten,1000,2024-01-02\n", "quantity 'ten' is not a number"),
    (LOTS_HEADER + b"VTI,10,1k,2024-01-02\n", "cost basis '1k' is not a number"),
    (LOTS_HEADER + b"VTI,10,1000,2024-13-45\n", "acquired date '2024-13-45' is not a date"),
    (LOTS_HEADER + b"VTI,10,1000,2026-12-01\n", "acquired date 2026-12-01 is in the future"),
    (LOTS_HEADER + b"VTI,10,-1000,2024-01-02\n", "cost basis -1000.00 must not be negative"),
    (
        LOTS_HEADER + b"VTI,10,1000,2024-01-02\nBND,5,400,2023-02-03\nVTI,10,1000,2024-01-02\n",
        "line 4: duplicate of line 2",
    ),
    (LOTS_HEADER + "VTI,10,1000,2024-01-02,Caf\u00e9\n".encode("latin-1"), "not UTF-8 text"),
    ("ticker,quantity,cost_basis,acquired_on\nVTI,1,1,2024-01-02\n".encode("utf-16"), "UTF-16"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
]


@pytest.mark.parametrize(("data", "message"), BAD_LOT_FILES)
def test_a_bad_lot_file_is_rejected_with_a_clear_message_and_writes_nothing(
    account: Portfolio, data: bytes, message: str
) -> None:
    before = counts()
    with pytest.raises(imports.ImportRejected) as excinfo:
        imports.import_file(data, kind="lots", portfolio=account, today=TODAY)
    assert message in " | ".join(excinfo.value.result.messages(50))
    assert counts() == before


def test_one_bad_row_among_many_good_rows_writes_nothing(account: Portfolio) -> None:
    good = b"".join(b"VTI,%d,%d,2024-01-02\n" % (i, i * 200) for i in range(1, 500))
    data = LOTS_HEADER + good + b"VTI,1,100,2099-01-01\n"
    before = counts()
    with pytest.raises(
        imports.ImportRejected, match="line 501: acquired date 2099-01-01 is in the future"
    ):
        imports.import_file(data, kind="lots", portfolio=account, today=TODAY)
    assert counts() == before


def test_a_file_over_the_size_limit_is_refused_before_parsing(
    account: Portfolio, settings: object
) -> None:
    settings.ADVISOR_IMPORT_MAX_BYTES = 1024  # type: ignore[attr-defined]
    data = LOTS_HEADER + b"VTI,1,250,2024-01-02\n" * 100
    before = counts()
    with pytest.raises(imports.ImportRejected, match=r"the limit is 0 MB|limit is"):
        imports.import_file(data, kind="lots", portfolio=account, today=TODAY)
    assert counts() == before


def test_the_default_limit_is_50_megabytes() -> None:
    assert imports.max_upload_bytes() == 50 * 1024 * 1024
    big = LOTS_HEADER + b"VTI,1,250,2024-01-02\n" * (50 * 1024 * 1024 // 21 + 1)
    result = parse_csv(big, kind="lots", known_tickers={"VTI": 1}, today=TODAY)
    assert result.file_errors and "the limit is 50 MB" in result.file_errors[0]
    assert result.rows == []


def test_canonical_lots_import_writes_lots_and_zero_cash_transfers(account: Portfolio) -> None:
    data = LOTS_HEADER + b"VTI,10.5,2100.00,2024-01-02\nBND,4,,2020-05-05\n".replace(
        b"BND,4,,2020-05-05", b"BND,4,290,2020-05-05"
    )
    imports.import_file(data, kind="lots", portfolio=account, today=TODAY, by=account.owner)
    lots = {lot.security.ticker: lot for lot in TaxLot.objects.filter(portfolio=account)}
    assert lots["VTI"].quantity == Decimal("10.5")
    assert lots["VTI"].cost_basis == Decimal("2100.00")
    assert lots["VTI"].acquired_on == dt.date(2024, 1, 2) == lots["VTI"].holding_start
    assert lots["BND"].opened_by.kind == Transaction.Kind.TRANSFER_IN
    account.refresh_from_db()
    assert account.cash == Decimal("0.00")
    assert ImportBatch.objects.get(portfolio=account).status == ImportBatch.Status.IMPORTED
    assert AuditEvent.objects.filter(action="import.lots", household=account.owner).count() == 1


def test_cost_per_share_is_multiplied_by_quantity(account: Portfolio) -> None:
    data = b"ticker,quantity,cost_per_share,acquired_on\nVTI,3,201.505,2024-01-02\n"
    imports.import_file(data, kind="lots", portfolio=account, today=TODAY)
    assert TaxLot.objects.get(portfolio=account).cost_basis == Decimal(
        "604.52"
    )  # 3 x 201.505 = 604.515


FIDELITY = b"""\xef\xbb\xbf"Account Number","Account Name","Symbol","Description","Date Acquired","Quantity","Last Price","Current Value","Cost Basis Total","Cost Basis Per Share"
"Z12345678","Individual","VTI","VANGUARD INDEX FDS TOTAL STK MKT","03/15/2021","25.5","$250.00","$6,375.00","$5,227.50","$205.00"
"Z12345678","Individual","VTI","VANGUARD INDEX FDS TOTAL STK MKT","11/02/2023","10","$250.00","$2,500.00","$2,150.00","$215.00"
"Z12345678","Individual","BND","VANGUARD TOTAL BOND MARKET","06/01/2022","100","$72.50","$7,250.00","$7,612.00","$76.12"
"Z12345678","Individual","SPAXX**","HELD IN MONEY MARKET","","","","$1,204.33","",""
"Z12345678","Individual","Pending Activity","","","","","$-30.00","",""

"The data and information in this spreadsheet is provided to you solely for your use."
"Date downloaded 11/24/2026 6:02 PM ET"
"""

SCHWAB = b""""Positions for account Individual ...789 as of 06:15 PM ET, 2026/11/24"

"Symbol","Description","Open Date","Quantity","Price","Cost/Share","Market Value","Cost Basis","Gain/Loss $","Gain/Loss %","Holding Period"
"ITOT","ISHARES CORE S&P TOTAL US STOCK","01/10/2022","40","$110.00","$95.25","$4,400.00","$3,810.00","$590.00","15.49%","Long Term"
"BND","VANGUARD TOTAL BOND MARKET","08/14/2026","12.345","$72.50","$74.00","$895.01","$913.53","-$18.52","-2.03%","Short Term"
"Cash & Cash Investments","--","--","--","--","--","$2,000.00","--","--","--","--"
"Account Total","--","--","--","--","--","$7,295.01","$4,723.53","--","--","--"
"""


@pytest.mark.parametrize(
    ("data", "layout", "expected", "cash"),
    [
        (FIDELITY, "fidelity", {("VTI", "25.5", "5227.50", "2021-03-15"), ("VTI", "10", "2150.00", "2023-11-02"),
                                ("BND", "100", "7612.00", "2022-06-01")}, "1204.33"),
        (SCHWAB, "schwab", {("ITOT", "40", "3810.00", "2022-01-10"), ("BND", "12.345", "913.53", "2026-08-14")},
         "2000.00"),
    ],
)  # fmt: skip
def test_broker_exports_import_lots_and_money_market_cash_and_skip_footer_lines(
    account: Portfolio, data: bytes, layout: str, expected: set[tuple[str, ...]], cash: str
) -> None:
    batch = imports.preview_import(
        data, owner=account.owner, kind="lots", portfolio=account, filename="x.csv", today=TODAY
    )
    assert batch.layout == layout
    assert batch.status == ImportBatch.Status.PREVIEW, batch.file_errors or [
        r["errors"] for r in batch.rows
    ]
    assert TaxLot.objects.count() == 0  # a preview writes nothing
    assert any(r["skipped"] for r in batch.rows)
    imports.confirm_import(batch, by=account.owner)
    got = {
        (
            lot.security.ticker,
            f"{lot.quantity.normalize():f}",
            f"{lot.cost_basis}",
            lot.acquired_on.isoformat(),
        )
        for lot in TaxLot.objects.filter(portfolio=account)
    }
    assert got == expected
    # The money-market (SPAXX**) or "Cash & Cash Investments" line is the account's cash.
    account.refresh_from_db()
    assert account.cash == Decimal(cash)
    assert account.transactions.aggregate(s=Sum("amount"))["s"] == account.cash


def test_confirming_twice_imports_once_and_the_same_file_cannot_be_imported_again(
    account: Portfolio,
) -> None:
    data = LOTS_HEADER + b"VTI,2,500,2024-01-02\n"
    batch = imports.preview_import(
        data, owner=account.owner, kind="lots", portfolio=account, today=TODAY
    )
    imports.confirm_import(batch, by=account.owner)
    imports.confirm_import(batch, by=account.owner)
    assert TaxLot.objects.filter(portfolio=account).count() == 1
    again = imports.preview_import(
        data, owner=account.owner, kind="lots", portfolio=account, today=TODAY
    )
    assert again.status == ImportBatch.Status.INVALID
    assert "already imported" in again.file_errors[0]


def test_a_ticker_deactivated_between_preview_and_confirm_rejects_the_whole_batch(
    account: Portfolio, securities: dict
) -> None:
    data = LOTS_HEADER + b"VTI,2,500,2024-01-02\nBND,3,220,2024-01-02\n"
    batch = imports.preview_import(
        data, owner=account.owner, kind="lots", portfolio=account, today=TODAY
    )
    securities["BND"].is_active = False
    securities["BND"].save()
    before = counts()
    with pytest.raises(imports.ImportRejected, match="unknown ticker 'BND'"):
        imports.confirm_import(batch, by=account.owner)
    assert counts() == before
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.PREVIEW


TXN_HEADER = b"date,kind,ticker,quantity,price,amount,fees,external_id\n"


def test_transaction_history_goes_through_the_ledger_and_cash_agrees(account: Portfolio) -> None:
    data = TXN_HEADER + (
        b"2024-01-02,deposit,,,,10000,,d1\n"
        b"2024-01-03,buy,VTI,20,200,,1.50,b1\n"
        b"2024-02-03,buy,BND,30,70,,,b2\n"
        b"2024-06-03,sell,VTI,5,230,,,s1\n"
        b"2024-07-01,dividend,VTI,,,12.34,,v1\n"
        b"2024-08-01,withdrawal,,,,500,,w1\n"
        b"2024-08-02,fee,,,,2.5,,f1\n"
    )
    imports.import_file(data, kind="transactions", portfolio=account, today=TODAY)
    account.refresh_from_db()
    # 10000 - (4000 + 1.50) - 2100 + 1150 + 12.34 - 500 - 2.50 = 4558.34, computed by hand
    assert account.cash == Decimal("4558.34")
    assert account.transactions.aggregate(s=Sum("amount"))["s"] == account.cash
    open_vti = (
        TaxLot.objects.open()
        .filter(portfolio=account, security__ticker="VTI")
        .aggregate(q=Sum("quantity"))["q"]
    )
    assert open_vti == Decimal("15")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (b"2024-01-03,buy,VTI,20,200,,,b1\n", "needs 4,000.00 cash but only 0.00 is available"),
        (
            b"2024-01-02,deposit,,,,100,,d1\n2024-01-03,sell,VTI,1,200,,,s1\n",
            "sells 1 VTI but only 0 are held",
        ),
        (b"2024-01-02,swap,VTI,1,200,,,x1\n", "kind 'swap' is not one of"),
        (b"2024-01-02,buy,VTI,,200,,,x1\n", "quantity is missing"),
        (b"2024-01-02,buy,VTI,1,0,,,x1\n", "price 0 must be more than zero"),
        (b"2024-01-02,deposit,,,,,,x1\n", "amount is missing"),
        (b"2024-01-02,deposit,,,,100,,x1\n2024-01-05,deposit,,,,100,,x1\n", "duplicate of line 2"),
        (b"2030-01-02,deposit,,,,100,,x1\n", "date 2030-01-02 is in the future"),
    ],
)
def test_bad_transaction_rows_write_nothing(account: Portfolio, rows: bytes, message: str) -> None:
    before = counts()
    with pytest.raises(imports.ImportRejected) as excinfo:
        imports.import_file(TXN_HEADER + rows, kind="transactions", portfolio=account, today=TODAY)
    assert message in " | ".join(excinfo.value.result.messages(50))
    assert counts() == before
    account.refresh_from_db()
    assert account.cash == Decimal("0.00")


def test_price_import_upserts_and_is_idempotent(securities: dict) -> None:
    data = b"date,ticker,close,adjusted_close\n2026-11-18,VTI,248.10,247.90\n2026-11-20,VTI,251.00,\n2026-11-19,BND,72.40,\n"
    imports.import_file(data, kind="prices", portfolio=None, today=TODAY, by=None)
    n = Price.objects.count()
    imports.import_file(data, kind="prices", portfolio=None, today=TODAY, by=None)
    assert Price.objects.count() == n
    assert Price.objects.get(security__ticker="VTI", date=dt.date(2026, 11, 20)).close == Decimal(
        "251.00"
    )
    assert Price.objects.get(
        security__ticker="VTI", date=dt.date(2026, 11, 18)
    ).adjusted_close == Decimal("247.90")


def test_price_rows_for_the_same_day_twice_are_duplicates(securities: dict) -> None:
    data = b"date,ticker,close\n2026-11-18,VTI,248.10\n2026-11-18,VTI,249.00\n2026-11-18,BND,-1\n"
    before = counts()
    with pytest.raises(imports.ImportRejected) as excinfo:
        imports.import_file(data, kind="prices", portfolio=None, today=TODAY)
    assert excinfo.value.result.messages() == [
        "line 3: duplicate of line 2",
        "line 4: close -1 must be more than zero",
    ]
    assert counts() == before


def test_the_command_uses_the_same_service_and_reports_errors(
    account: Portfolio, tmp_path: Path
) -> None:
    good = tmp_path / "lots.csv"
    good.write_bytes(LOTS_HEADER + b"VTI,2,500,2024-01-02\n")
    call_command("import_csv", str(good), kind="lots", portfolio=account.pk)
    assert TaxLot.objects.filter(portfolio=account).count() == 1
    bad = tmp_path / "bad.csv"
    bad.write_bytes(LOTS_HEADER + b"NOPE,2,500,2024-01-02\n")
    before = counts()
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_csv", str(bad), kind="lots", portfolio=account.pk)
    assert counts() == before
    with pytest.raises(CommandError, match="does not belong"):
        call_command(
            "import_csv", str(good), kind="lots", portfolio=account.pk, owner="someone@example.com"
        )


def test_the_portfolio_balance_is_untouched_by_a_rejected_history(account: Portfolio) -> None:
    Portfolio.objects.filter(pk=account.pk).update(cash=Decimal("100.00"))
    data = TXN_HEADER + b"2024-01-02,deposit,,,,50,,a\n2024-01-03,withdrawal,,,,500,,b\n"
    with pytest.raises(imports.ImportRejected, match=r"needs 500\.00 cash but only 150\.00"):
        imports.import_file(data, kind="transactions", portfolio=account, today=TODAY)
    account.refresh_from_db()
    assert account.cash == Decimal("100.00")
    assert Transaction.objects.filter(portfolio=account).count() == 0


def test_imported_lots_that_replace_a_recent_loss_sale_are_wash_sales(
    account: Portfolio, securities: dict
) -> None:
    from portfolios import ledger
    from portfolios.models import WashSaleMatch
    from tests.factories import PortfolioFactory

    # Taxable: bought 10 VTI at 300, sold them at 250 on 2026-10-01: a 500.00 loss.
    ledger.record_cash(
        account, kind="deposit", amount=Decimal("3000"), trade_date=dt.date(2026, 9, 1)
    )
    ledger.record_buy(account, security=securities["VTI"], quantity=Decimal("10"), price=Decimal("300"),
                      trade_date=dt.date(2026, 9, 2))  # fmt: skip
    ledger.record_sell(account, security=securities["VTI"], quantity=Decimal("10"), price=Decimal("250"),
                       trade_date=dt.date(2026, 10, 1))  # fmt: skip
    ira = PortfolioFactory(
        owner=account.owner, name="IRA", tax_treatment=Portfolio.TaxTreatment.TRADITIONAL_IRA
    )
    data = LOTS_HEADER + b"VTI,10,2520,2026-10-15\nVTI,3,600,2024-01-02\nBND,5,360,2026-10-15\n"
    imports.import_file(data, kind="lots", portfolio=ira, today=TODAY)
    match = WashSaleMatch.objects.get()
    # Bought back inside an IRA 14 days after the loss: the whole 500.00 loss is disallowed for good.
    assert match.replacement_lot.acquired_on == dt.date(2026, 10, 15)
    assert (
        match.quantity == Decimal("10")
        and match.disallowed == Decimal("500.00")
        and match.permanent
    )
    assert match.lot_sale.gain == Decimal("0.00")
