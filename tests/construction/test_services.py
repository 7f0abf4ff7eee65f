"""Portfolio construction services: a draft from a method, the four-eyes review that makes it
the model's target, refusals that change nothing, and the investor's custom target within the
guardrails of their risk level."""

from decimal import Decimal

import pytest

from accounts.models import AuditEvent
from portfolios import demo, selectors
from portfolios.analytics import assumptions
from portfolios.analytics.errors import InfeasibleError, InputError, PortfolioError
from portfolios.construction import compute, services
from portfolios.construction.selectors import guardrails
from portfolios.models import ModelAllocation, ModelPortfolio, ModelVersion, TargetAllocation
from tests.construction.data import ALL_CLASSES, BONDS, assessment_at_level
from tests.factories import PortfolioFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def balanced() -> ModelPortfolio:
    demo.seed_reference_data()
    return ModelPortfolio.objects.get(slug="balanced")


@pytest.fixture
def author():
    return UserFactory(email="author@example.com", is_staff=True)


@pytest.fixture
def reviewer():
    return UserFactory(email="reviewer@example.com", is_staff=True)


def max_sharpe_with_bond_floor(floor: float = 0.3) -> dict:
    return {
        "asset_classes": ALL_CLASSES,
        "method": "max_sharpe",
        "risk_free_rate": 0.03,
        "groups": {"bonds": [floor, 1.0]},
    }


def allocation(model: ModelPortfolio) -> dict[str, Decimal]:
    return {a.asset_class.code: a.weight for a in model.allocations.select_related("asset_class")}


def test_a_draft_is_built_by_max_sharpe_with_a_bond_floor_and_changes_no_target(
    balanced, author
) -> None:
    before = allocation(balanced)
    version = services.build_draft(
        balanced, max_sharpe_with_bond_floor(0.8), by=author, reason="New CMAs for 2027"
    )
    assert version.status == ModelVersion.Status.DRAFT and version.number == 1
    assert version.method == "max_sharpe" and version.author == author
    assert sum(version.weights.values()) == pytest.approx(1.0, abs=1e-12)
    # The floor binds: above a 3% risk-free rate max Sharpe on these assumptions wants about
    # 76% in bonds (their excess return per unit of volatility is the highest), less than 80%.
    unconstrained = compute.build({**max_sharpe_with_bond_floor(), "groups": {}})
    assert 0.7 < sum(unconstrained.weights.get(c, 0) for c in BONDS) < 0.8
    assert sum(version.weights.get(c, 0) for c in BONDS) == pytest.approx(0.8, abs=2e-4)
    floored = compute.build(max_sharpe_with_bond_floor(0.8)).result
    assert unconstrained.result.sharpe > floored.sharpe
    assert version.kkt_residual < 1e-8
    # The stored figures are those of the stored (rounded) weights, by the shared estimate.
    estimate = assumptions.portfolio_estimate(version.weights)
    assert float(version.volatility) == pytest.approx(estimate.volatility, abs=1e-6)
    assert allocation(balanced) == before
    event = AuditEvent.objects.get(action="model.version_drafted")
    assert event.actor == author and event.data["reason"] == "New CMAs for 2027"


def test_publishing_needs_a_second_staff_member_then_replaces_the_target(
    balanced, author, reviewer
) -> None:
    account = PortfolioFactory(owner=UserFactory(), model=balanced)
    version = services.build_draft(balanced, max_sharpe_with_bond_floor(), by=author, reason="r")
    with pytest.raises(services.ConstructionError, match="second staff member"):
        services.publish(version, by=author, note="looks fine")
    with pytest.raises(services.ConstructionError, match="reason"):
        services.publish(version, by=reviewer, note="  ")
    assert ModelVersion.objects.get(pk=version.pk).status == ModelVersion.Status.DRAFT

    services.publish(version, by=reviewer, note="Checked the bond floor")
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.PUBLISHED and version.reviewer == reviewer
    expected = {
        c: Decimal(str(w)).quantize(Decimal("0.000001")) for c, w in version.weights.items()
    }
    assert allocation(balanced) == expected
    assert sum(allocation(balanced).values()) == Decimal("1")
    # The account following the model now targets the new weights (the drift check reads these).
    targets = selectors.targets([account.pk]).set_index("asset_class")["weight"]
    assert targets.to_dict() == pytest.approx(version.weights)
    # A kept class keeps its security; a class new to the model gets an active one of its class.
    for row in ModelAllocation.objects.filter(model=balanced).select_related("security"):
        assert row.security.asset_class_id == row.asset_class_id
    event = AuditEvent.objects.get(action="model.version_published")
    assert event.actor == reviewer and event.data["note"] == "Checked the bond floor"
    assert event.data["previous_weights"]["us-stocks"] == pytest.approx(0.35)

    second = services.build_draft(
        balanced, {**max_sharpe_with_bond_floor(0.4)}, by=reviewer, reason="More bonds"
    )
    services.publish(second, by=author, note="ok")
    assert ModelVersion.objects.get(pk=version.pk).status == ModelVersion.Status.SUPERSEDED
    with pytest.raises(services.ConstructionError, match="already published"):
        services.reject(second, by=author, note="too late")


def test_a_rejected_draft_never_becomes_the_target(balanced, author, reviewer) -> None:
    before = allocation(balanced)
    version = services.build_draft(balanced, max_sharpe_with_bond_floor(), by=author, reason="r")
    services.reject(version, by=reviewer, note="Too little in stocks")
    assert ModelVersion.objects.get(pk=version.pk).status == ModelVersion.Status.REJECTED
    assert allocation(balanced) == before
    assert AuditEvent.objects.filter(action="model.version_rejected").count() == 1


def test_black_litterman_without_views_gives_back_the_current_target(balanced, author) -> None:
    inputs = {"asset_classes": list(allocation(balanced)), "method": "black_litterman"}
    version = services.build_draft(balanced, inputs, by=author, reason="prior only")
    assert version.weights == pytest.approx({c: float(w) for c, w in allocation(balanced).items()})
    # A view that emerging markets earn 15% a year moves weight towards them.
    tilted = compute.build(
        {**inputs, "views": [{"weights": {"emerging": 1.0}, "value": 0.15}]},
        {c: float(w) for c, w in allocation(balanced).items()},
    )
    assert tilted.weights["emerging"] > version.weights["emerging"] + 0.05


@pytest.mark.parametrize(
    ("inputs", "error", "code"),
    [
        (
            {"method": "black_litterman", "views": [{"weights": {"bitcoin": 1.0}, "value": 0.2}]},
            InputError,
            "unknown_asset",
        ),
        ({"method": "max_sharpe", "upper": {c: 0.1 for c in ALL_CLASSES}}, InfeasibleError,
         "budget_unreachable"),
        ({"method": "efficient_return", "target_return": 0.5}, InfeasibleError,
         "target_return_unreachable"),
        ({"method": "min_volatility", "groups": {"bonds": [0.5, 0.4]}}, InfeasibleError,
         "group_conflict"),
    ],
)  # fmt: skip
def test_inputs_that_cannot_be_met_raise_a_typed_error_and_build_nothing(
    balanced, author, inputs, error, code
) -> None:
    with pytest.raises(error) as raised:
        services.build_draft(
            balanced, {"asset_classes": ALL_CLASSES, **inputs}, by=author, reason="r"
        )
    assert raised.value.code == code
    assert not ModelVersion.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="model.").exists()


def test_two_classes_on_the_same_assumptions_make_a_singular_covariance(balanced, author) -> None:
    # "small-cap-stocks" takes the US stocks assumptions: the two move exactly alike.
    inputs = {
        "asset_classes": ["us-stocks", "small-cap-stocks", "us-bonds"],
        "method": "max_sharpe",
        "lower": {"us-stocks": 0.2, "small-cap-stocks": 0.2},
    }
    with pytest.raises(PortfolioError) as raised:
        compute.build(inputs)
    assert raised.value.code == "covariance_singular"


def test_only_staff_build_drafts(balanced) -> None:
    with pytest.raises(services.ConstructionError):
        services.build_draft(balanced, max_sharpe_with_bond_floor(), by=UserFactory(), reason="r")


def test_rounded_weights_sum_to_one_on_a_grid() -> None:
    import pandas as pd

    # 1/3 each rounds to 0.3333 three times; the residue 0.0001 goes to the largest (the first).
    assert compute.rounded(pd.Series([1 / 3, 1 / 3, 1 / 3], index=list("abc"))) == {
        "a": 0.3334,
        "b": 0.3333,
        "c": 0.3333,
    }
    assert compute.rounded(pd.Series([0.99996, 0.00004], index=["x", "y"])) == {"x": 1.0}


def test_risk_contributions_by_hand() -> None:
    # US stocks (16% vol) and cash (0.5% vol) are uncorrelated: at 50/50 the variances are
    # 0.25 * 0.0256 = 0.0064 and 0.25 * 0.000025 = 0.00000625, so stocks carry
    # 0.0064 / 0.00640625 = 99.9024% of the risk.
    universe = compute.cma_universe(["us-stocks", "cash"])
    shares = compute.risk_contributions(universe, {"us-stocks": 0.5, "cash": 0.5})
    assert shares["us-stocks"] == pytest.approx(0.0064 / 0.00640625, abs=1e-12)
    assert shares["cash"] == pytest.approx(0.00000625 / 0.00640625, abs=1e-12)


def test_custom_target_within_the_guardrails(balanced, user) -> None:
    account = PortfolioFactory(owner=user, model=balanced)
    assessment = assessment_at_level(user, level=4, max_level=6)
    limits = guardrails(assessment)
    assert limits.level_volatility < limits.cap_volatility

    calm = {"asset_classes": ALL_CLASSES, "method": "efficient_risk",
            "target_volatility": limits.level_volatility - 0.001}  # fmt: skip
    services.set_custom_target(assessment, calm, by=user, portfolios=[account])
    account.refresh_from_db()
    assert account.model is None
    rows = {
        t.asset_class.code: t.weight for t in TargetAllocation.objects.filter(portfolio=account)
    }
    assert sum(rows.values()) == Decimal("1")
    assert (
        AuditEvent.objects.filter(action="construction.custom_target_set", household=user).count()
        == 1
    )

    between = {**calm, "target_volatility": (limits.level_volatility + limits.cap_volatility) / 2}
    with pytest.raises(services.AcknowledgementRequired):
        services.set_custom_target(assessment, between, by=user, portfolios=[account])
    services.set_custom_target(
        assessment, between, by=user, portfolios=[account], acknowledge_more_aggressive=True
    )
    assert AuditEvent.objects.filter(action="risk.more_aggressive_acknowledged").count() == 1
    assessment.refresh_from_db()
    assert assessment.acknowledged_more_aggressive

    wild = {"asset_classes": ["emerging", "us-stocks"], "method": "max_sharpe"}
    before = dict(
        TargetAllocation.objects.filter(portfolio=account).values_list(
            "asset_class__code", "weight"
        )
    )
    with pytest.raises(services.ConstructionError, match="capacity"):
        services.set_custom_target(
            assessment, wild, by=user, portfolios=[account], acknowledge_more_aggressive=True
        )
    after = dict(
        TargetAllocation.objects.filter(portfolio=account).values_list(
            "asset_class__code", "weight"
        )
    )
    assert after == before


def test_custom_target_refuses_another_investors_account(balanced, user, other_user) -> None:
    theirs = PortfolioFactory(owner=other_user, model=balanced)
    assessment = assessment_at_level(user, level=6, max_level=8)
    inputs = {"asset_classes": ALL_CLASSES, "method": "min_volatility"}
    with pytest.raises(services.ConstructionError):
        services.set_custom_target(assessment, inputs, by=user, portfolios=[theirs])
    theirs.refresh_from_db()
    assert theirs.model == balanced and not TargetAllocation.objects.exists()


def test_risk_parity_converges_on_the_capital_market_assumptions() -> None:
    # Cash's tiny variance (0.005^2) makes the Newton decrease smaller than f's rounding near
    # the optimum; the line search must still take the full step there.
    result = compute.build({"asset_classes": ALL_CLASSES, "method": "risk_parity"}).result
    assert result.kkt_residual < 1e-10
    assert result.risk_contributions == pytest.approx([1 / len(ALL_CLASSES)] * len(ALL_CLASSES))


@pytest.mark.parametrize("method", ["efficient_return", "efficient_risk"])
def test_efficient_portfolios_and_the_frontier_under_a_bond_band(method: str) -> None:
    # Bonds 20-40% on the capital market assumptions: the active-set solver used to walk a
    # rounding-sized step for ever on a face with cash's tiny variance.
    inputs = {"asset_classes": ALL_CLASSES, "method": method, "target_return": 0.05,
              "target_volatility": 0.08, "groups": {"bonds": [0.2, 0.4]}}  # fmt: skip
    built = compute.build(inputs)
    assert built.result.kkt_residual < 1e-9
    assert 0.2 - 1e-4 <= sum(built.weights.get(c, 0) for c in BONDS) <= 0.4 + 1e-4
    universe = compute.cma_universe(ALL_CLASSES)
    curve = compute.frontier(universe, compute.constraints_of(inputs, universe))
    assert len(curve) == compute.FRONTIER_POINTS
    vols = [p["volatility"] for p in curve]
    assert vols == sorted(vols)


def test_a_new_model_is_offered_only_once_its_first_version_is_published(
    balanced, author, reviewer
) -> None:
    from portfolios.onboarding.selectors import model_for_level

    model = services.create_model(
        name="Income 30/70", risk_level=3, description="Bonds first", by=author
    )
    assert not model.is_active and model.slug == "income-3070"
    assert model_for_level(3) != model  # not recommended while it has no target
    with pytest.raises(services.ConstructionError, match="exists already"):
        services.create_model(name="income 30/70", risk_level=3, description="", by=reviewer)
    version = services.build_draft(
        model, {"asset_classes": ALL_CLASSES, "method": "min_volatility"}, by=author, reason="v1"
    )
    services.publish(version, by=reviewer, note="ok")
    model.refresh_from_db()
    assert model.is_active and model_for_level(3) == model
    assert sum(allocation(model).values()) == Decimal("1")
    assert AuditEvent.objects.filter(action="model.created", actor=author).count() == 1


def test_publishing_never_reactivates_a_retired_model(balanced, author, reviewer) -> None:
    balanced.is_active = False
    balanced.save()
    version = services.build_draft(balanced, max_sharpe_with_bond_floor(), by=author, reason="r")
    services.publish(version, by=reviewer, note="ok")
    balanced.refresh_from_db()
    assert not balanced.is_active
