"""The yearly tax report and its Form 8949 CSV, against hand-computed numbers; the page and the
download are scoped to the signed-in investor."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from portfolios import ledger
from portfolios.models import Portfolio
from rebalancing.services import tax_report
from tests.factories import PASSWORD, PortfolioFactory, SecurityFactory

pytestmark = pytest.mark.django_db

D = dt.date


@pytest.fixture
def history(user):
    return make_history(user)


def make_history(user) -> dict[str, Portfolio]:
    """2026 in the taxable account:

    - 100 VTI bought 01/05/2026 for 5,000 and sold 03/02/2026 for 4,000 (short-term loss 1,000);
      30 VTI bought back 03/20/2026: wash sale, 300 disallowed -> gain (700).
    - 50 BND bought 02/01/2024 for 4,000, sold 06/01/2026 for 4,500: long-term gain 500.
    - 20 VEA bought 01/05/2026 for 1,000, sold 04/01/2026 for 800 (loss 200), and 20 VEA bought
      in the IRA on 04/10/2026: 200 disallowed permanently -> gain 0.00, code W.
    And one sale in the IRA (not reportable).
    Short term: proceeds 4,800, basis 6,000, adjustments 500, gain (700).
    Long term: proceeds 4,500, basis 4,000, gain 500. Net (200).
    """
    taxable = PortfolioFactory(owner=user, name="Brokerage")
    ira = PortfolioFactory(
        owner=user, name="IRA", tax_treatment=Portfolio.TaxTreatment.TRADITIONAL_IRA
    )
    for p in (taxable, ira):
        ledger.record_cash(p, kind="deposit", amount=Decimal("50000"), trade_date=D(2024, 1, 2))
    vti, bnd, vea = (SecurityFactory(ticker=t) for t in ("VTI", "BND", "VEA"))
    buy, sell = ledger.record_buy, ledger.record_sell
    buy(
        taxable,
        security=vti,
        quantity=Decimal("100"),
        price=Decimal("50"),
        trade_date=D(2026, 1, 5),
    )
    sell(
        taxable,
        security=vti,
        quantity=Decimal("100"),
        price=Decimal("40"),
        trade_date=D(2026, 3, 2),
    )
    buy(
        taxable,
        security=vti,
        quantity=Decimal("30"),
        price=Decimal("42"),
        trade_date=D(2026, 3, 20),
    )
    buy(
        taxable, security=bnd, quantity=Decimal("50"), price=Decimal("80"), trade_date=D(2024, 2, 1)
    )
    sell(
        taxable, security=bnd, quantity=Decimal("50"), price=Decimal("90"), trade_date=D(2026, 6, 1)
    )
    buy(
        taxable, security=vea, quantity=Decimal("20"), price=Decimal("50"), trade_date=D(2026, 1, 5)
    )
    sell(
        taxable, security=vea, quantity=Decimal("20"), price=Decimal("40"), trade_date=D(2026, 4, 1)
    )
    buy(ira, security=vea, quantity=Decimal("20"), price=Decimal("41"), trade_date=D(2026, 4, 10))
    buy(ira, security=bnd, quantity=Decimal("10"), price=Decimal("80"), trade_date=D(2025, 1, 6))
    sell(ira, security=bnd, quantity=Decimal("10"), price=Decimal("70"), trade_date=D(2026, 2, 2))
    return {"taxable": taxable, "ira": ira}


def test_report_totals_match_the_hand_computed_numbers(user, history) -> None:
    report = tax_report.build(user, 2026)
    assert len(report.rows) == 3
    st, lt = report.short_term, report.long_term
    assert (st.proceeds, st.cost_basis, st.adjustment, st.gain) == (
        Decimal("4800.00"),
        Decimal("6000.00"),
        Decimal("500.00"),
        Decimal("-700.00"),
    )
    assert (lt.proceeds, lt.cost_basis, lt.adjustment, lt.gain) == (
        Decimal("4500.00"),
        Decimal("4000.00"),
        Decimal("0.00"),
        Decimal("500.00"),
    )
    assert report.net_gain == Decimal("-200.00")
    assert report.wash_sale_disallowed == Decimal("500.00")
    assert report.permanently_disallowed == Decimal("200.00")
    assert report.harvested_losses == 0
    assert tax_report.build(user, 2025).rows == []


def test_form_8949_csv_rows(user, history) -> None:
    csv_text = tax_report.form_8949_csv(tax_report.build(user, 2026))
    assert csv_text.splitlines() == [
        "Part,(a) Description of property,(b) Date acquired,(c) Date sold or disposed of,(d) Proceeds,"
        "(e) Cost or other basis,(f) Code(s),(g) Amount of adjustment,(h) Gain or (loss)",
        "I,100 sh VTI,01/05/2026,03/02/2026,4000.00,5000.00,W,300.00,-700.00",
        "I,20 sh VEA,01/05/2026,04/01/2026,800.00,1000.00,W,200.00,0.00",
        "II,50 sh BND,02/01/2024,06/01/2026,4500.00,4000.00,,,500.00",
    ]


def test_report_page_and_csv_download(client, user, history) -> None:
    client.login(email=user.email, password=PASSWORD)
    page = client.get(reverse("rebalancing:tax_report_year", args=[2026]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Tax report 2026" in body and "-$700.00" in body and "permanently disallowed" in body
    one = client.get(
        reverse("rebalancing:tax_report_csv", args=[2026]), {"portfolio": history["taxable"].pk}
    )
    assert one.status_code == 200
    assert one["Content-Type"].startswith("text/csv")
    assert "form-8949-2026" in one["Content-Disposition"]
    assert "100 sh VTI" in one.content.decode()


def test_another_users_account_is_a_404_and_strangers_must_sign_in(
    client, user, other_user, history
) -> None:
    url = reverse("rebalancing:tax_report_year", args=[2026])
    assert client.get(url).status_code == 302  # to the sign-in page
    client.login(email=other_user.email, password=PASSWORD)
    assert client.get(url, {"portfolio": history["taxable"].pk}).status_code == 404
    csv_url = reverse("rebalancing:tax_report_csv", args=[2026])
    assert client.get(csv_url, {"portfolio": history["taxable"].pk}).status_code == 404
    assert client.get(csv_url, {"portfolio": "abc"}).status_code == 404
    # Their own report has none of the investor's sales.
    assert "100 sh VTI" not in client.get(csv_url).content.decode()
    assert client.get(reverse("rebalancing:tax_report_year", args=[2999])).status_code == 404
