"""Construction pages through the test client: staff only, bad input answered with a clear
message (never a 500), publishing asks for a recent sign-in, the lab and the risk result."""

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent
from portfolios import demo
from portfolios.models import ModelPortfolio, ModelVersion, Portfolio
from portfolios.onboarding import services as onboarding
from tests.auth import recently_signed_in
from tests.construction.data import ALL_CLASSES, assessment_at_level
from tests.factories import PortfolioFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def balanced() -> ModelPortfolio:
    demo.seed_reference_data()
    return ModelPortfolio.objects.get(slug="balanced")


def staff_client(email: str) -> tuple[Client, object]:
    staff = UserFactory(email=email, is_staff=True)
    client = Client()
    client.force_login(staff)
    recently_signed_in(client, "mfa")
    return client, staff


def build_form(**extra: object) -> dict[str, object]:
    return {
        "asset_classes": ALL_CLASSES,
        "method": "max_sharpe",
        "risk_free_rate": "3",
        "bonds_min": "80",
        "reason": "Bond floor for the new assumptions",
        **extra,
    }


def test_investors_get_403_on_every_staff_page(client: Client, user, balanced, staff_user) -> None:
    version = ModelVersion.objects.create(
        model=balanced, number=1, method="max_sharpe", inputs={}, weights={"us-stocks": 1.0},
        expected_return="0.075", volatility="0.16", kkt_residual=0.0, reason="r",
        author=staff_user, created_at="2026-01-01T00:00Z",
    )  # fmt: skip
    client.force_login(user)
    recently_signed_in(client)
    for name, kwargs in (
        ("construction:index", {}),
        ("construction:model", {"pk": balanced.pk}),
        ("construction:version", {"pk": version.pk}),
    ):
        assert client.get(reverse(name, kwargs=kwargs)).status_code == 403, name
    for name in ("construction:model", "construction:publish", "construction:reject"):
        pk = balanced.pk if name == "construction:model" else version.pk
        response = client.post(reverse(name, kwargs={"pk": pk}), build_form(note="x"))
        assert response.status_code == 403, name
    assert ModelVersion.objects.get().status == ModelVersion.Status.DRAFT
    assert ModelVersion.objects.count() == 1


def test_staff_build_then_a_second_staff_member_publishes(balanced) -> None:
    author, _ = staff_client("author@example.com")
    page = author.get(reverse("construction:model", args=[balanced.pk])).content.decode()
    assert re.search(r"<td>US stocks</td><td[^>]*>us-stocks</td><td[^>]*>7.5%</td>", page)
    response = author.post(reverse("construction:model", args=[balanced.pk]), build_form())
    version = ModelVersion.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("construction:version", args=[version.pk])
    page = author.get(response["Location"]).content.decode()
    assert "a second staff member reviews and publishes it" in page
    assert 'id="publish-button"' not in page

    reviewer, _ = staff_client("reviewer@example.com")
    page = reviewer.get(reverse("construction:version", args=[version.pk])).content.decode()
    assert 'id="publish-button"' in page and "version-frontier-data" in page
    assert '<strong id="followers">0</strong> accounts that follow it' in page
    response = reviewer.post(
        reverse("construction:publish", args=[version.pk]), {"note": "Checked"}
    )
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.PUBLISHED
    assert AuditEvent.objects.filter(action="model.version_published").count() == 1


def test_publishing_without_a_recent_sign_in_asks_for_one(balanced) -> None:
    author, _ = staff_client("author@example.com")
    author.post(reverse("construction:model", args=[balanced.pk]), build_form())
    version = ModelVersion.objects.get()
    reviewer = Client()
    reviewer.force_login(UserFactory(email="reviewer@example.com", is_staff=True))
    response = reviewer.post(reverse("construction:publish", args=[version.pk]), {"note": "ok"})
    assert response.status_code == 302 and "reauthenticate" in response["Location"]
    assert ModelVersion.objects.get().status == ModelVersion.Status.DRAFT


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"limits": "us-stocks 60-100\nus-bonds 60-100"}, "cannot add up to 100%"),
        ({"method": "black_litterman", "views": "bitcoin 20"}, "names an asset class that is not chosen"),
        ({"method": "efficient_return", "target_return": "50", "bonds_min": ""},
         "above the highest return these asset classes can reach (9.00%)"),
        ({"views": "stocks will go up"}, "Cannot read the view"),
        ({"bonds_min": "abc"}, "is not a number"),
        ({"method": "efficient_risk"}, "Efficient risk needs this target."),
        ({"risk_free_rate": "20", "bonds_min": ""}, "earns more than the risk-free rate"),
    ],
)  # fmt: skip
def test_bad_input_gets_a_clear_message_and_builds_nothing(balanced, extra, message) -> None:
    author, _ = staff_client("author@example.com")
    response = author.post(reverse("construction:model", args=[balanced.pk]), build_form(**extra))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ModelVersion.objects.exists()


def test_a_singular_covariance_gets_a_clear_message(balanced) -> None:
    from portfolios.models import AssetClass, Security

    small = AssetClass.objects.create(code="small-cap-stocks", name="US small caps")
    Security.objects.create(ticker="VB", name="Vanguard Small-Cap ETF", asset_class=small)
    author, _ = staff_client("author@example.com")
    response = author.post(
        reverse("construction:model", args=[balanced.pk]),
        build_form(
            asset_classes=["us-stocks", "small-cap-stocks", "us-bonds"],
            bonds_min="",
            limits="us-stocks 20-100\nsmall-cap-stocks 20-100",
        ),
    )
    assert response.status_code == 400
    assert "move exactly alike" in response.content.decode()


def test_the_lab_shows_weights_the_frontier_and_the_households_portfolios(
    client: Client, user, balanced
) -> None:
    PortfolioFactory(owner=user, model=balanced)
    client.force_login(user)
    page = client.get(reverse("lab:index")).content.decode()
    assert 'id="lab-weights"' in page and "lab-frontier-data" in page
    assert "Your target" in page and "Maximum Sharpe ratio" in page
    assert "<td>US bonds</td>" in page  # asset classes by name
    page = client.get(
        reverse("lab:index"), {"asset_classes": ALL_CLASSES, "method": "risk_parity"}
    ).content.decode()
    assert (
        "same share of the portfolio&#x27;s risk" in page
        or "same share of the portfolio's risk" in page
    )
    response = client.get(
        reverse("lab:index"),
        {"asset_classes": ALL_CLASSES, "method": "efficient_risk", "target_volatility": "0.1"},
    )
    assert "below the lowest volatility" in response.content.decode()


def test_the_lab_sets_a_custom_target_and_refuses_one_beyond_capacity(
    client: Client, user, balanced
) -> None:
    account = PortfolioFactory(owner=user, model=balanced)
    assessment_at_level(user, level=4, max_level=6)
    client.force_login(user)
    form = {"asset_classes": ALL_CLASSES, "method": "min_volatility", "risk_free_rate": "3",
            "portfolios": [account.pk]}  # fmt: skip
    response = client.post(reverse("lab:adopt"), form)
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.model is None and account.custom_targets.count() > 0

    aggressive = {**form, "asset_classes": ["emerging"], "method": "inverse_volatility",
                  "acknowledge_more_aggressive": "on"}  # fmt: skip
    response = client.post(reverse("lab:adopt"), aggressive)
    assert response.status_code == 400
    assert "the most your capacity for risk" in response.content.decode()


def test_the_lab_will_not_touch_another_investors_account(
    client: Client, user, other_user, balanced
) -> None:
    theirs = PortfolioFactory(owner=other_user, model=balanced)
    assessment_at_level(user, level=6, max_level=8)
    client.force_login(user)
    response = client.post(
        reverse("lab:adopt"),
        {"asset_classes": ALL_CLASSES, "method": "min_volatility", "portfolios": [theirs.pk]},
    )
    assert response.status_code == 400
    assert Portfolio.objects.get(pk=theirs.pk).model == balanced


def test_the_risk_result_shows_the_recommended_model_on_the_frontier(
    client: Client, user, balanced
) -> None:
    from accounts import questionnaire
    from accounts.models import Question

    version = questionnaire.ensure_default_questionnaire()
    selections = {
        q.code: q.options.last().pk
        for q in version.questions.prefetch_related("options")
        if q.kind == Question.Kind.CHOICE
    }
    assessment = onboarding.submit_assessment(
        user, questionnaire_version=version, selections=selections, amount=Decimal("10000")
    )
    client.force_login(user)
    page = client.get(reverse("onboarding:assessment", args=[assessment.pk])).content.decode()
    assert 'id="model-frontier"' in page and "model-frontier-data" in page
    assert f"Where {assessment.recommended_model.name} sits on the efficient frontier" in page


def test_the_lab_builds_from_securities_on_their_own_price_history(
    client: Client, user, balanced, today
) -> None:
    import json

    from portfolios.models import Security

    demo.seed_prices({s.ticker: s for s in Security.objects.all()}, today)
    account = PortfolioFactory(owner=user, model=balanced)
    client.force_login(user)
    query = {"securities": ["VTI", "BND", "GLD"], "method": "min_volatility", "risk_free_rate": "0"}
    page = client.get(reverse("lab:index"), query).content.decode()
    assert 'id="lab-weights"' in page and "last three years of daily prices" in page
    data = json.loads(re.search(r'id="lab-frontier-data"[^>]*>(.*?)</script>', page, re.S)[1])
    labels = [p["label"] for p in data["points"]]
    # The target's securities (VTI, VEA, BND...) are estimated with the chosen ones: one plane.
    assert labels == ["This method", "Your target"] and len(data["frontier"]) == 25
    minimum = min(p["volatility"] for p in data["frontier"])
    assert data["points"][0]["volatility"] == pytest.approx(minimum, rel=1e-3)

    assessment_at_level(user, level=6, max_level=8)
    response = client.post(reverse("lab:adopt"), {**query, "portfolios": [account.pk]})
    assert response.status_code == 400
    assert "A target is made of asset classes" in response.content.decode()
    assert Portfolio.objects.get(pk=account.pk).model == balanced


def test_the_lab_explains_securities_without_enough_common_history(
    client: Client, user, balanced, today
) -> None:
    import datetime as dt

    from portfolios.models import Price, Security

    for ticker in ("VTI", "BND"):
        security = Security.objects.get(ticker=ticker)
        for back in range(30):
            day = today - dt.timedelta(days=back)
            Price.objects.create(security=security, date=day, close=Decimal(100 + back % 7))
    client.force_login(user)
    response = client.get(reverse("lab:index"), {"securities": ["VTI", "BND"], "method": "hrp"})
    page = response.content.decode()
    assert "There is not enough price history: only 29 daily returns" in page


def test_the_admin_shows_model_weights_and_versions_read_only(balanced) -> None:
    client, staff = staff_client("root@example.com")
    staff.is_superuser = True
    staff.save()
    page = client.get(reverse("admin:portfolios_modelportfolio_change", args=[balanced.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="allocations-0-weight"' not in body and "0.350000" in body
    assert client.get(reverse("admin:portfolios_modelversion_changelist")).status_code == 200
    assert client.get(reverse("admin:portfolios_modelversion_add")).status_code == 403


def test_the_lab_places_the_households_holdings_and_target(client: Client, user) -> None:
    import json

    from tests.rebalancing.proposal_data import drifted_household

    drifted_household(user)  # 80% US stocks, 20% bonds held; target 60/40
    client.force_login(user)
    page = client.get(
        reverse("lab:index"),
        {
            "asset_classes": ["us-stocks", "bonds"],
            "method": "min_volatility",
            "risk_free_rate": "3",
        },
    ).content.decode()
    data = json.loads(re.search(r'id="lab-frontier-data"[^>]*>(.*?)</script>', page, re.S)[1])
    points = {p["label"]: p for p in data["points"]}
    assert set(points) == {"This method", "Your portfolio today", "Your target"}
    # On the capital market assumptions: US stocks 7.5%, bonds (US bonds) 4.5%.
    assert points["Your portfolio today"]["expected_return"] == pytest.approx(
        0.8 * 0.075 + 0.2 * 0.045, abs=1e-3
    )
    assert points["Your target"]["expected_return"] == pytest.approx(
        0.6 * 0.075 + 0.4 * 0.045, abs=1e-9
    )


def test_a_holding_with_too_little_history_is_left_off_the_securities_chart(
    client: Client, user, balanced, today
) -> None:
    import json

    from portfolios.models import Price, Security
    from tests.factories import TaxLotFactory

    demo.seed_prices({s.ticker: s for s in Security.objects.all()}, today)
    unpriced = Security.objects.create(
        ticker="NEWX", name="New fund", asset_class=Security.objects.get(ticker="VTI").asset_class
    )
    Price.objects.create(security=unpriced, date=today, close=Decimal("10"))  # listed today
    TaxLotFactory(portfolio=PortfolioFactory(owner=user), security=unpriced)
    client.force_login(user)
    query = {"securities": ["VTI", "BND"], "method": "min_volatility"}
    page = client.get(reverse("lab:index"), query).content.decode()
    data = json.loads(re.search(r'id="lab-frontier-data"[^>]*>(.*?)</script>', page, re.S)[1])
    assert [p["label"] for p in data["points"]] == ["This method"]


def test_staff_create_a_model_and_a_duplicate_name_is_refused(balanced) -> None:
    client, _ = staff_client("author@example.com")
    form = {"name": "Income", "risk_level": "3", "description": "Bonds first"}
    response = client.post(reverse("construction:index"), form)
    model = ModelPortfolio.objects.get(slug="income")
    assert response["Location"] == reverse("construction:model", args=[model.pk])
    response = client.post(reverse("construction:index"), {**form, "name": "Balanced"})
    assert response.status_code == 400 and "exists already" in response.content.decode()
    response = client.post(reverse("construction:index"), {**form, "risk_level": "11"})
    assert response.status_code == 400 and ModelPortfolio.objects.count() == 6
