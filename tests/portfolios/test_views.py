"""Account pages, the import wizard and the API: scoped to the signed-in user."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from advisor.core import clock
from portfolios import tasks
from portfolios.imports import services as imports
from portfolios.models import ImportBatch, Portfolio, TaxLot, Transaction
from tests.auth import recently_signed_in
from tests.factories import TaxLotFactory

pytestmark = pytest.mark.django_db

LOTS = b"ticker,quantity,cost_basis,acquired_on\nVTI,10,2000,2024-01-02\nBND,20,1500,2025-09-01\n"


@pytest.fixture
def client_for(client: Client):
    def login(user: object) -> Client:
        client.force_login(user)  # type: ignore[arg-type]
        recently_signed_in(client)  # editing an account's broker details needs a recent sign-in
        return client

    return login


def snapshot(portfolio: Portfolio) -> tuple[object, ...]:
    portfolio.refresh_from_db()
    return (
        portfolio.name, portfolio.cash, portfolio.tax_treatment,
        TaxLot.objects.filter(portfolio=portfolio).count(), Transaction.objects.filter(portfolio=portfolio).count(),
    )  # fmt: skip


def test_pages_render_with_positions_gains_and_weights(
    account: Portfolio, securities: dict, client_for
) -> None:
    TaxLotFactory(portfolio=account, security=securities["VTI"], quantity=Decimal("10"), cost_basis=Decimal("2000.00"),
                  acquired_on=clock.today() - dt.timedelta(days=6 * 365))  # fmt: skip
    TaxLotFactory(portfolio=account, security=securities["BND"], quantity=Decimal("20"), cost_basis=Decimal("1600.00"),
                  acquired_on=clock.today() - dt.timedelta(days=90))  # fmt: skip
    c = client_for(account.owner)
    listing = c.get(reverse("portfolios:list"))
    assert listing.status_code == 200 and b"Taxable" in listing.content
    page = c.get(reverse("portfolios:detail", args=[account.pk]))
    assert page.status_code == 200
    data = page.context["data"]
    # VTI 10 x 250 = 2500 (long-term gain 500); BND 20 x 72.50 = 1450 (short-term loss -150).
    assert data.total == pytest.approx(3950.0)
    assert data.long_term_gain == pytest.approx(500.0)
    assert data.short_term_gain == pytest.approx(-150.0)
    weights = {c["code"]: round(c["weight"], 4) for c in data.classes}
    assert weights == {"us-stocks": round(2500 / 3950, 4), "us-bonds": round(1450 / 3950, 4)}
    assert b"allocation-chart" in page.content
    # With cash: classes stay shares of the invested value (as the drift check weighs them),
    # cash is a share of the whole.
    Portfolio.objects.filter(pk=account.pk).update(cash=Decimal("50.00"))
    data = c.get(reverse("portfolios:detail", args=[account.pk])).context["data"]
    weights = {c["code"]: round(c["weight"], 4) for c in data.classes}
    assert weights == {
        "us-stocks": round(2500 / 3950, 4),
        "us-bonds": round(1450 / 3950, 4),
        "cash": round(50 / 4000, 4),
    }


def test_creating_an_account_records_the_opening_cash_in_the_ledger(
    user: object, client_for
) -> None:
    c = client_for(user)
    response = c.post(reverse("portfolios:create"), {"name": "Roth", "tax_treatment": "roth_ira", "opening_cash": "1500.00",
                                                     "account_number_last4": "1234"})  # fmt: skip
    portfolio = Portfolio.objects.get(owner=user, name="Roth")
    assert response.status_code == 302
    assert portfolio.cash == Decimal("1500.00")
    assert portfolio.transactions.get().kind == Transaction.Kind.DEPOSIT


def test_invalid_account_form_shows_errors(user: object, client_for) -> None:
    c = client_for(user)
    response = c.post(
        reverse("portfolios:create"),
        {"name": "X", "tax_treatment": "taxable", "account_number_last4": "12ab"},
    )
    assert response.status_code == 200
    assert "Enter exactly the last four digits" in response.content.decode()
    assert not Portfolio.objects.filter(owner=user).exists()


def test_another_users_account_pages_are_404_and_nothing_changes(
    others_account: Portfolio, user: object, client_for
) -> None:
    c = client_for(user)
    before = snapshot(others_account)
    pk = others_account.pk
    for name in ("detail", "edit", "import", "transaction_create"):
        assert c.get(reverse(f"portfolios:{name}", args=[pk])).status_code == 404, name
    assert (
        c.post(
            reverse("portfolios:edit", args=[pk]), {"name": "pwned", "tax_treatment": "roth_ira"}
        ).status_code
        == 404
    )
    upload = SimpleUploadedFile("lots.csv", LOTS)
    assert (
        c.post(
            reverse("portfolios:import", args=[pk]),
            {"kind": "lots", "layout": "auto", "file": upload},
        ).status_code
        == 404
    )
    post = {"kind": "deposit", "trade_date": "2026-11-02", "amount": "100"}
    assert c.post(reverse("portfolios:transaction_create", args=[pk]), post).status_code == 404
    assert snapshot(others_account) == before
    assert ImportBatch.objects.count() == 0


def test_another_users_import_batch_is_404_and_cannot_be_confirmed(
    others_account: Portfolio, user: object, client_for
) -> None:
    batch = imports.preview_import(
        LOTS, owner=others_account.owner, kind="lots", portfolio=others_account
    )
    assert batch.status == ImportBatch.Status.PREVIEW
    c = client_for(user)
    assert c.get(reverse("portfolios:import_preview", args=[batch.pk])).status_code == 404
    assert c.post(reverse("portfolios:import_confirm", args=[batch.pk])).status_code == 404
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.PREVIEW
    assert TaxLot.objects.count() == 0


def test_the_wizard_previews_every_row_then_imports_on_confirm(
    account: Portfolio, client_for
) -> None:
    c = client_for(account.owner)
    upload = SimpleUploadedFile("lots.csv", LOTS)
    response = c.post(
        reverse("portfolios:import", args=[account.pk]),
        {"kind": "lots", "layout": "auto", "file": upload},
    )
    batch = ImportBatch.objects.get(portfolio=account)
    assert response.url == reverse("portfolios:import_preview", args=[batch.pk])
    preview = c.get(response.url)
    assert b"Import 2 rows" in preview.content and TaxLot.objects.count() == 0
    done = c.post(reverse("portfolios:import_confirm", args=[batch.pk]))
    assert done.url == reverse("portfolios:import_preview", args=[batch.pk])
    page = c.get(done.url).content.decode()
    assert 'id="import-progress"' in page and "0 of 2 rows written" in page
    assert TaxLot.objects.count() == 0  # the task writes them
    c.post(reverse("portfolios:import_confirm", args=[batch.pk]))  # a second click
    tasks.run_import(batch.pk, account.owner.pk)  # what the worker runs
    assert TaxLot.objects.filter(portfolio=account).count() == 2
    status = c.get(reverse("portfolios:import_status", args=[batch.pk])).content.decode()
    assert "Imported 2 rows from lots.csv" in status and "hx-get" not in status


def test_the_wizard_shows_row_errors_and_refuses_to_confirm(account: Portfolio, client_for) -> None:
    c = client_for(account.owner)
    bad = LOTS + b"NOPE,1,10,2024-01-01\nVTI,-3,10,2024-01-01\n"
    c.post(
        reverse("portfolios:import", args=[account.pk]),
        {"kind": "lots", "layout": "auto", "file": SimpleUploadedFile("b.csv", bad)},
    )
    batch = ImportBatch.objects.get(portfolio=account)
    page = c.get(reverse("portfolios:import_preview", args=[batch.pk])).content.decode()
    assert "unknown ticker &#x27;NOPE&#x27;" in page and "must be more than zero" in page
    assert 'id="confirm-import"' not in page
    c.post(reverse("portfolios:import_confirm", args=[batch.pk]))
    assert TaxLot.objects.count() == 0


def test_an_oversized_upload_is_refused_before_reading(
    account: Portfolio, client_for, settings
) -> None:
    settings.ADVISOR_IMPORT_MAX_BYTES = 10
    c = client_for(account.owner)
    response = c.post(
        reverse("portfolios:import", args=[account.pk]),
        {"kind": "lots", "layout": "auto", "file": SimpleUploadedFile("l.csv", LOTS)},
    )
    assert response.status_code == 200
    assert "the limit is 0 MB" in response.content.decode()
    assert ImportBatch.objects.count() == 0 and TaxLot.objects.count() == 0


def test_price_import_is_for_staff_only(user: object, staff_user: object, client_for) -> None:
    assert client_for(user).get(reverse("portfolios:price_import")).status_code == 403
    assert client_for(staff_user).get(reverse("portfolios:price_import")).status_code == 200


def test_manual_sell_of_unheld_shares_shows_the_ledger_error(
    account: Portfolio, securities: dict, client_for
) -> None:
    c = client_for(account.owner)
    post = {
        "kind": "sell",
        "trade_date": "2026-11-02",
        "security": securities["VTI"].pk,
        "quantity": "1",
        "price": "250",
    }
    response = c.post(reverse("portfolios:transaction_create", args=[account.pk]), post)
    assert "Cannot sell 1.00000000 VTI" in response.content.decode()
    assert Transaction.objects.count() == 0


def test_the_api_lists_only_the_users_own_objects(
    account: Portfolio, others_account: Portfolio, securities: dict, client_for
) -> None:
    mine = TaxLotFactory(portfolio=account, security=securities["VTI"])
    theirs = TaxLotFactory(portfolio=others_account, security=securities["VTI"])
    c = client_for(account.owner)
    portfolios = c.get("/api/portfolios/").json()["results"]
    assert [p["id"] for p in portfolios] == [account.pk]
    lots = c.get("/api/lots/").json()["results"]
    assert [lot["id"] for lot in lots] == [mine.pk]
    assert c.get(f"/api/lots/{theirs.pk}/").status_code == 404
    assert c.get(f"/api/portfolios/{others_account.pk}/").status_code == 404
    assert c.get(f"/api/transactions/?portfolio={others_account.pk}").json()["results"] == []


def test_dividend_reinvestment_is_set_on_the_edit_form_and_shown(
    account: Portfolio, client_for
) -> None:
    c = client_for(account.owner)
    page = c.get(reverse("portfolios:detail", args=[account.pk]))
    assert "dividends paid in cash" in page.text
    form = c.get(reverse("portfolios:edit", args=[account.pk]))
    assert 'name="reinvest_dividends"' in form.text
    response = c.post(
        reverse("portfolios:edit", args=[account.pk]),
        {"name": "Taxable", "tax_treatment": "taxable", "reinvest_dividends": "on",
         "is_active": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.reinvest_dividends is True
    page = c.get(reverse("portfolios:detail", args=[account.pk]))
    assert "dividends reinvested automatically (not harvested at a loss)" in page.text
    assert c.get(f"/api/portfolios/{account.pk}/").json()["reinvest_dividends"] is True


def test_anonymous_users_are_sent_to_sign_in(account: Portfolio, client: Client) -> None:
    response = client.get(reverse("portfolios:detail", args=[account.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response.url
    assert client.get("/api/portfolios/").status_code == 403
