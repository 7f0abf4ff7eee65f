"""Bad input is refused with a message, never a server error, and never half written: Unicode
digits, numbers past a column's precision (alone or added up), NUL bytes, odd ids and limits,
accounting negatives with a sign inside, dates before 1900. The preview and the confirm apply
the same checks."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from advisor.core import inputs
from portfolios.imports import services as imports
from portfolios.models import ImportBatch, Portfolio, TaxLot, Transaction

pytestmark = pytest.mark.django_db

LOTS_HEADER = "ticker,quantity,cost_basis,acquired_on\n"
PER_SHARE_HEADER = "ticker,quantity,cost_per_share,acquired_on\n"
TXN_HEADER = "date,kind,ticker,quantity,price,amount\n"


@pytest.fixture
def c(client: Client, account: Portfolio) -> Client:
    client.force_login(account.owner)
    return client


def _written(account: Portfolio) -> tuple:
    account.refresh_from_db()
    return TaxLot.objects.count(), Transaction.objects.count(), account.cash


def _upload(c: Client, account: Portfolio, text: str | bytes, kind: str = "lots") -> ImportBatch:
    data = text.encode() if isinstance(text, str) else text
    response = c.post(
        reverse("portfolios:import", args=[account.pk]),
        {"kind": kind, "layout": "auto", "file": SimpleUploadedFile("f.csv", data)},
    )
    assert response.status_code in (200, 302)
    return ImportBatch.objects.filter(portfolio=account).latest("pk")


def _refused(c: Client, account: Portfolio, text: str | bytes, kind: str = "lots") -> str:
    """Upload, check the preview refuses it, try to confirm anyway: nothing is written."""
    before = _written(account)
    batch = _upload(c, account, text, kind)
    assert batch.status == ImportBatch.Status.INVALID, batch.rows
    page = c.get(reverse("portfolios:import_preview", args=[batch.pk])).content.decode()
    c.post(reverse("portfolios:import_confirm", args=[batch.pk]))
    assert _written(account) == before
    return page


@pytest.mark.parametrize("digits", ["\uff11\uff12", "\u0661\u0662", "\u00b9\u00b2", "\u2460"])
@pytest.mark.parametrize("column", ["quantity", "cost_basis"])
def test_unicode_digits_in_a_number_are_refused_at_upload(c, account, digits, column) -> None:
    cells = {"quantity": "10", "cost_basis": "100"} | {column: digits}
    page = _refused(
        c, account, LOTS_HEADER + f"VTI,{cells['quantity']},{cells['cost_basis']},2024-01-02\n"
    )
    assert "non-ASCII digits" in page


def test_a_full_width_date_is_refused_at_the_preview(c, account) -> None:
    page = _refused(c, account, LOTS_HEADER + "VTI,10,100,\uff12\uff10\uff12\uff14-01-02\n")
    assert "non-ASCII digits" in page


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        ("lots", LOTS_HEADER + "VTI,999999999999,1,2024-01-02\nVTI,999999999999,2,2024-01-03\n",
         "total quantity of VTI"),
        ("lots", PER_SHARE_HEADER + "VTI,999999999999,999999999999,2024-01-02\n", "too large"),
        ("lots", LOTS_HEADER + "VTI,9999999999999,1,2024-01-02\n", "too large"),
        ("transactions", TXN_HEADER + "2024-01-02,deposit,,,,9999999999999999\n"
                                      "2024-01-03,deposit,,,,9999999999999999\n", "cash balance"),
        ("transactions", TXN_HEADER + "2024-01-02,deposit,,,,100\n"
                                      "2024-01-03,dividend,VTI,,,9999999999999999.99\n", "cash balance"),
        ("transactions", TXN_HEADER + "2024-01-02,buy,VTI,999999999999,999999999999,\n", "too large"),
    ],
)  # fmt: skip
def test_numbers_past_the_columns_precision_are_refused_before_writing(
    c, account, kind, text, message
) -> None:
    page = _refused(c, account, text, kind)
    assert message in page


def test_a_nul_byte_after_the_first_64_kib_is_refused(c, account) -> None:
    rows = "".join(f"VTI,1,{n},2024-01-02\n" for n in range(1, 4000))
    data = (LOTS_HEADER + rows).encode()
    assert len(data) > 65536
    data = data[:70000] + b"\x00" + data[70000:]
    page = _refused(c, account, data)
    assert "binary data" in page


def test_an_accounting_negative_with_a_sign_inside_is_refused(c, account) -> None:
    page = _refused(c, account, LOTS_HEADER + "VTI,(-5),100,2024-01-02\n")
    assert "two signs" in page
    assert inputs.parse_decimal("(5)", "quantity", inputs.QUANTITY) == Decimal("-5")


def test_the_confirm_checks_the_stored_rows_again(c, account) -> None:
    """A batch whose stored rows no longer pass (here: edited to a date before 1900) is
    refused at confirm exactly as the preview would have refused it."""
    batch = _upload(c, account, LOTS_HEADER + "VTI,10,100,2024-01-02\n")
    assert batch.status == ImportBatch.Status.PREVIEW
    rows = batch.rows
    rows[0]["values"]["acquired_on"] = "0001-01-01"
    ImportBatch.objects.filter(pk=batch.pk).update(rows=rows)
    with pytest.raises(imports.ImportRejected, match="too far in the past"):
        imports.confirm_import(ImportBatch.objects.get(pk=batch.pk), by=account.owner)
    assert TaxLot.objects.count() == 0


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"kind": "deposit", "trade_date": "0001-01-01", "amount": "10"}, "trade_date"),
        ({"kind": "deposit", "trade_date": "2024-01-02", "amount": "\uff11\uff12"}, "amount"),
        ({"kind": "deposit", "trade_date": "\uff12\uff10\uff12\uff14-01-02", "amount": "1"}, "trade_date"),
        ({"kind": "deposit", "trade_date": "2024-01-02", "amount": "99999999999999999"}, "amount"),
        ({"kind": "deposit", "trade_date": "2024-01-02", "amount": "1\x00"}, "amount"),
    ],
)  # fmt: skip
def test_the_transaction_form_refuses_bad_values(c, account, values, field) -> None:
    before = _written(account)
    response = c.post(reverse("portfolios:transaction_create", args=[account.pk]), values)
    assert response.status_code in (200, 400)
    assert field in response.context["form"].errors
    assert _written(account) == before


def test_the_transaction_form_refuses_a_deposit_that_overflows_the_cash(c, account) -> None:
    url = reverse("portfolios:transaction_create", args=[account.pk])
    big = {"kind": "deposit", "trade_date": "2024-01-02", "amount": "9999999999999999"}
    assert c.post(url, big).status_code == 302
    before = _written(account)
    response = c.post(url, big)
    assert response.status_code in (200, 400)
    assert "cash balance" in response.content.decode()
    assert _written(account) == before


@pytest.mark.parametrize(
    "value", ["\u00b2", "\u2460", "\u0661", "\uff11", "-1", "0", "1e3", "99999999999999999999"]
)
def test_odd_account_ids_in_query_parameters_are_not_found(c, account, value, today) -> None:
    year = today.year
    assert c.get(reverse("rebalancing:tax_report"), {"portfolio": value}).status_code == 404
    assert (
        c.get(reverse("rebalancing:tax_report_csv", args=[year]), {"portfolio": value}).status_code
        == 404
    )
    for path in ("/api/lots/", "/api/transactions/"):
        response = c.get(path, {"portfolio": value})
        assert response.status_code == 200 and response.json()["results"] == []


@pytest.mark.parametrize("path", ["/api/portfolios/", "/api/lots/", "/api/transactions/"])
@pytest.mark.parametrize("query", [{"limit": "99999999999999999999"}, {"offset": "99999999999999999999"},
                                   {"limit": "\u00b2"}, {"limit": "-5", "offset": "-1"}])  # fmt: skip
def test_huge_or_odd_limits_on_every_api_list_are_clamped(c, account, path, query) -> None:
    response = c.get(path, query)
    assert response.status_code == 200
    assert len(response.json()["results"]) <= 1000
