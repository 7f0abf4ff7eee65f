"""Fuzzing (hypothesis, a bounded number of examples) of the CSV importer, the transaction form
and every query parameter: never a server error (the test client raises on one), never a
partial write."""

import string

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolios import tasks
from portfolios.models import ImportBatch, Portfolio, TaxLot, Transaction

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
ODD_DIGITS = "\uff10\uff11\uff12\u0660\u0661\u0662\u00b2\u00b3\u2460\u2461\u0966\u096f"

numbers = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.decimals(allow_nan=True, allow_infinity=True, places=None).map(str),
    st.sampled_from(["(5)", "(-5)", "-(5)", "$1,234.50", "1e400", "12%", "--", "", " 7 ", "0",
                     "999999999999", "9999999999999999.99", "99999999999999999999", "0.000000001"]),
    st.text(alphabet=string.digits + ODD_DIGITS + ".,-()$ \x00", max_size=12),
)  # fmt: skip
dates = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(["0001-01-01", "1899-12-31", "9999-12-31", "2024-02-30", "02/01/2024",
                     "\uff12\uff10\uff12\uff14-01-02", "2024-01-02\x00", ""]),
    st.text(alphabet=string.digits + ODD_DIGITS + "-/", max_size=12),
)  # fmt: skip
tickers = st.sampled_from(["VTI", "BND", "vti", "NOPE", "", "VTI\x00", "\u0412TI"])
kinds = st.sampled_from(
    ["buy", "sell", "deposit", "withdrawal", "dividend", "fee", "interest", "x"]
)


def _cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(ch in value for ch in ',"\n') else value


def _state(account: Portfolio) -> tuple:
    account.refresh_from_db()
    return TaxLot.objects.count(), Transaction.objects.count(), account.cash


@pytest.fixture
def c(client: Client, account: Portfolio) -> Client:
    client.force_login(account.owner)
    return client


lot_rows = st.lists(st.tuples(tickers, numbers, numbers, dates), min_size=1, max_size=6)
txn_rows = st.lists(
    st.tuples(dates, kinds, tickers, numbers, numbers, numbers), min_size=1, max_size=6
)


def _import(c: Client, account: Portfolio, kind: str, header: str, rows: list[tuple]) -> None:
    text = header + "".join(",".join(_cell(v) for v in row) + "\n" for row in rows)
    before = _state(account)
    response = c.post(
        reverse("portfolios:import", args=[account.pk]),
        {"kind": kind, "layout": "auto", "file": SimpleUploadedFile("f.csv", text.encode())},
    )
    assert response.status_code in (200, 302)
    batch = ImportBatch.objects.filter(portfolio=account).order_by("-pk").first()
    if batch is None:
        assert _state(account) == before
        return
    c.get(reverse("portfolios:import_preview", args=[batch.pk]))
    c.post(reverse("portfolios:import_confirm", args=[batch.pk]))
    tasks.run_import(batch.pk, account.owner_id)  # what the worker runs after the confirm
    batch.refresh_from_db()
    after = _state(account)
    if batch.status == ImportBatch.Status.IMPORTED:
        written = batch.row_count
        grew = (after[0] - before[0]) if kind == "lots" else (after[1] - before[1])
        assert grew == written  # every row, not some
    else:
        assert after == before  # nothing at all


@FUZZ
@given(rows=lot_rows)
def test_fuzzed_lot_files_never_fail_and_never_half_write(c, account, rows) -> None:
    _import(c, account, "lots", "ticker,quantity,cost_basis,acquired_on\n", rows)


@FUZZ
@given(rows=txn_rows)
def test_fuzzed_transaction_files_never_fail_and_never_half_write(c, account, rows) -> None:
    _import(c, account, "transactions", "date,kind,ticker,quantity,price,amount\n", rows)


@FUZZ
@given(kind=kinds, date=dates, quantity=numbers, price=numbers, amount=numbers, fees=numbers,
       security=st.sampled_from(["", "1", "999999999999999999999", "\u00b2"]))  # fmt: skip
def test_fuzzed_transaction_form_never_fails_and_writes_one_or_nothing(
    c, account, securities, kind, date, quantity, price, amount, fees, security
) -> None:
    security_id = str(securities["VTI"].pk) if security == "1" else security
    before = _state(account)
    response = c.post(
        reverse("portfolios:transaction_create", args=[account.pk]),
        {"kind": kind, "trade_date": date, "security": security_id, "quantity": quantity,
         "price": price, "amount": amount, "fees": fees, "note": "fuzz\x00"},
    )  # fmt: skip
    assert response.status_code in (200, 302, 400)
    added = _state(account)[1] - before[1]
    assert added == (1 if response.status_code == 302 else 0)


QUERY_ROUTES = [
    ("rebalancing:tax_report", {}, ["portfolio"]),
    ("rebalancing:tax_report_year", {"year": 2024}, ["portfolio"]),
    ("rebalancing:tax_report_csv", {"year": 2024}, ["portfolio"]),
    ("onboarding:questionnaire", {}, ["restart"]),
    ("lab:index", {}, ["method", "asset_classes", "risk_free_rate", "target_return"]),
    ("portfolio-list", {}, ["limit", "offset"]),
    ("lot-list", {}, ["portfolio", "open", "limit", "offset"]),
    ("transaction-list", {}, ["portfolio", "limit", "offset"]),
]
parameter_values = st.one_of(
    numbers, st.text(max_size=30), st.sampled_from(["\x00", "1\x00", "%00", "[]", "{}"])
)


@FUZZ
@given(values=st.lists(parameter_values, min_size=4, max_size=4))
def test_fuzzed_query_parameters_never_fail(c, account, values) -> None:
    for name, kwargs, parameters in QUERY_ROUTES:
        query = dict(zip(parameters, values, strict=False))
        response = c.get(reverse(name, kwargs=kwargs), query)
        assert response.status_code in (200, 302, 400, 404), (name, query)
