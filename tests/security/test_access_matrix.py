"""The access-control matrix, built from the URL resolver.

Every route that takes an object id is listed in CASES with a way to make an object of that
kind owned by one investor. For each route and method: another investor gets a 404 (405 where
the method is not offered) and nothing in the database changes; an anonymous visitor is sent to
sign in (or gets 401/403 from the API). Staff routes (the admin, the price import) answer 403 to
a signed-in investor. A new route with an object id and no case fails
`test_every_object_route_has_a_case`.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from allauth.mfa.models import Authenticator
from dateutil.relativedelta import relativedelta
from django.apps import apps
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts import questionnaire
from accounts.models import Question
from advisor.core import clock
from portfolios import demo
from portfolios.construction import services as construction
from portfolios.models import Goal, ImportBatch, ModelPortfolio, Transaction
from portfolios.onboarding import services as onboarding
from rebalancing.models import BacktestRun, ContributionSchedule, Proposal, WithdrawalRequest
from tests.auth import recently_signed_in
from tests.factories import PortfolioFactory, TaxLotFactory, UserFactory
from tests.rebalancing.proposal_data import drifted_household

pytestmark = pytest.mark.django_db

OBJECT_PARAMETERS = {"pk", "id", "object_id"}
APPS = ("accounts", "portfolios", "rebalancing", "mfa", "account")


def _assessment(owner):
    demo.seed_reference_data()
    version = questionnaire.ensure_default_questionnaire()
    selections = {
        q.code: q.options.first().pk
        for q in version.questions.prefetch_related("options")
        if q.kind == Question.Kind.CHOICE
    }
    return onboarding.submit_assessment(
        owner, questionnaire_version=version, selections=selections, amount=Decimal("1000")
    )


def _portfolio(owner):
    return PortfolioFactory(owner=owner, name="Matrix account")


def _batch(owner):
    return ImportBatch.objects.create(
        owner=owner, portfolio=_portfolio(owner), kind="lots", layout="canonical", sha256="0" * 64
    )


def _goal(owner):
    return Goal.objects.create(
        user=owner, name="House", target_amount=Decimal("100000"),
        target_date=clock.today() + relativedelta(years=5),
    )  # fmt: skip


def _proposal(owner):
    return drifted_household(owner).proposal


def _lot(owner):
    return TaxLotFactory(portfolio=_portfolio(owner))


def _transaction(owner):
    portfolio = _portfolio(owner)
    return Transaction.objects.create(
        portfolio=portfolio, kind="deposit", trade_date=clock.today(), amount=Decimal("10")
    )


def _withdrawal(owner):
    return WithdrawalRequest.objects.create(
        portfolio=_portfolio(owner), amount=Decimal("100"),
        needed_on=clock.today() + relativedelta(days=5),
    )  # fmt: skip


def _contribution(owner):
    return ContributionSchedule.objects.create(
        portfolio=_portfolio(owner), amount=Decimal("100"), frequency="monthly",
        start_on=clock.today(),
    )  # fmt: skip


def _model(owner):
    demo.seed_reference_data()
    return ModelPortfolio.objects.get(slug="balanced")


def _model_version(owner):
    author = UserFactory(email="model-author@example.com", is_staff=True)
    return construction.build_draft(
        _model(owner),
        {"asset_classes": ["us-stocks", "us-bonds"], "method": "min_volatility"},
        by=author,
        reason="matrix",
    )


def _backtest(owner):
    return BacktestRun.objects.create(portfolio=_portfolio(owner), key="0" * 64)


def _passkey(owner):
    return Authenticator.objects.create(
        user=owner, type=Authenticator.Type.WEBAUTHN, data={"name": "key", "credential": {}}
    )


@dataclass(frozen=True)
class Case:
    make: Callable[[object], object]
    methods: tuple[str, ...]  # the methods the owner may use
    kwargs: Callable[[object], dict] = lambda obj: {"pk": obj.pk}  # type: ignore[attr-defined]
    api: bool = False


CASES: dict[str, Case] = {
    "onboarding:assessment": Case(_assessment, ("GET",)),
    "onboarding:accept": Case(_assessment, ("POST",)),
    "onboarding:fund": Case(_portfolio, ("GET",)),
    "portfolios:detail": Case(_portfolio, ("GET",)),
    "portfolios:edit": Case(_portfolio, ("GET", "POST")),
    "portfolios:transaction_create": Case(_portfolio, ("GET", "POST")),
    "portfolios:import": Case(_portfolio, ("GET", "POST")),
    "portfolios:import_preview": Case(_batch, ("GET",)),
    "portfolios:import_confirm": Case(_batch, ("POST",)),
    "portfolios:import_status": Case(_batch, ("GET",)),
    "goals:detail": Case(_goal, ("GET",)),
    "goals:edit": Case(_goal, ("GET", "POST")),
    "goals:delete": Case(_goal, ("POST",)),
    "performance:account": Case(_portfolio, ("GET",)),
    "rebalancing:detail": Case(_proposal, ("GET",)),
    "rebalancing:approve": Case(_proposal, ("POST",)),
    "rebalancing:reject": Case(_proposal, ("POST",)),
    "rebalancing:status": Case(_proposal, ("GET",)),
    "rebalancing:recheck": Case(_proposal, ("POST",)),
    "rebalancing:check_now": Case(_portfolio, ("POST",)),
    "rebalancing:scan_status": Case(_portfolio, ("GET",)),
    "money:deposit": Case(_portfolio, ("GET", "POST")),
    "money:withdraw": Case(_portfolio, ("GET", "POST")),
    "money:withdraw_cancel": Case(_withdrawal, ("POST",)),
    "money:contributions": Case(_portfolio, ("GET", "POST")),
    "money:contribution_stop": Case(_contribution, ("POST",)),
    "backtests:account": Case(_portfolio, ("GET",)),
    "backtests:account_stress": Case(_portfolio, ("GET",)),
    "backtests:status": Case(_backtest, ("GET",)),
    "settings:policy": Case(_portfolio, ("GET", "POST")),
    "mfa_remove_webauthn": Case(_passkey, ("GET", "POST")),
    "mfa_edit_webauthn": Case(_passkey, ("GET", "POST")),
    "portfolio-detail": Case(_portfolio, ("GET",), api=True),
    "lot-detail": Case(_lot, ("GET",), api=True),
    "transaction-detail": Case(_transaction, ("GET",), api=True),
}
STAFF_ROUTES = ("portfolios:price_import", "construction:index", "console:households")
# Staff pages of shared objects (model portfolios and their versions): an investor gets 403
# and changes nothing, an anonymous visitor is sent to sign in.
STAFF_OBJECT_CASES: dict[str, Case] = {
    "construction:model": Case(_model, ("GET", "POST")),
    "construction:version": Case(_model_version, ("GET",)),
    "construction:publish": Case(_model_version, ("POST",)),
    "construction:reject": Case(_model_version, ("POST",)),
}
# The adviser's console: the object is a household (an investor). Any investor, the household
# itself included, gets 403; an adviser it is not assigned to gets 404 and changes nothing.
CONSOLE_CASES: dict[str, tuple[str, ...]] = {
    "console:household": ("GET",),
    "console:add_note": ("POST",),
    "console:sign_off": ("POST",),
    "console:export_csv": ("GET",),
    "console:report": ("GET",),
}


def _parameters(pattern: object) -> set[str]:
    declared = set(re.findall(r"<(?:\w+:)?(\w+)>", str(pattern)))
    return set(pattern.regex.groupindex) | declared  # type: ignore[attr-defined]


def _routes(
    resolver: URLResolver | None = None, namespace: str = "", inherited: frozenset = frozenset()
) -> list[tuple[str, set]]:
    """(route name, parameter names) for every named route, namespaces and the parameters of
    enclosing includes included."""
    out = []
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = (
                f"{namespace}:{entry.namespace}"
                if namespace and entry.namespace
                else (entry.namespace or namespace)
            )
            out += _routes(entry, inner, inherited | _parameters(entry.pattern))
        elif isinstance(entry, URLPattern) and entry.name:
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            out.append((name, set(inherited) | _parameters(entry.pattern)))
    return out


def test_every_object_route_has_a_case() -> None:
    object_routes = {
        name
        for name, parameters in _routes()
        if parameters & OBJECT_PARAMETERS and not name.startswith("admin:")
    }
    covered = set(CASES) | set(STAFF_OBJECT_CASES) | set(CONSOLE_CASES)
    assert object_routes - covered == set(), "add these routes to CASES (or the staff cases)"
    assert covered - object_routes == set(), "these cases name no route any more"


def _snapshot(obj) -> tuple:
    counts = tuple(
        (model._meta.label, model._default_manager.count())
        for model in apps.get_models()
        if model._meta.app_label in APPS
    )
    row = type(obj)._default_manager.filter(pk=obj.pk).values().first()  # type: ignore[attr-defined]
    return counts, repr(row)


def _call(client: Client, method: str, url: str, api: bool) -> int:
    if method == "GET":
        return client.get(url).status_code
    return client.post(url, {"note": "x", "name": "pwned", "email": "x@example.com"}).status_code


@pytest.mark.parametrize("name", sorted(CASES))
def test_another_investor_gets_404_and_changes_nothing(name: str, client: Client) -> None:
    case = CASES[name]
    owner = UserFactory(email="owner@example.com")
    intruder = UserFactory(email="intruder@example.com")
    obj = case.make(owner)
    url = reverse(name, kwargs=case.kwargs(obj))
    before = _snapshot(obj)
    client.force_login(intruder)
    recently_signed_in(client)  # a step-up would not help either
    for method in ("GET", "POST"):
        status = _call(client, method, url, case.api)
        if method in case.methods:
            assert status == 404, (name, method, status)
        else:
            assert status in (404, 405), (name, method, status)
    assert _snapshot(obj) == before, name
    assert Proposal.objects.filter(decided_by=intruder).count() == 0


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_anonymous_visitor_is_sent_to_sign_in(name: str, client: Client) -> None:
    case = CASES[name]
    obj = case.make(UserFactory(email="owner@example.com"))
    url = reverse(name, kwargs=case.kwargs(obj))
    before = _snapshot(obj)
    for method in ("GET", "POST"):
        response = client.get(url) if method == "GET" else client.post(url, {"note": "x"})
        if response.status_code == 302:
            assert response["Location"].startswith(reverse("account_login")), (name, method)
        else:
            assert response.status_code in (401, 403, 405), (name, method, response.status_code)
    assert _snapshot(obj) == before


@pytest.mark.parametrize("name", sorted(STAFF_OBJECT_CASES))
def test_staff_object_routes_answer_403_to_an_investor_and_change_nothing(
    name: str, client: Client
) -> None:
    case = STAFF_OBJECT_CASES[name]
    investor = UserFactory(email="investor@example.com")
    obj = case.make(investor)
    url = reverse(name, kwargs=case.kwargs(obj))
    before = _snapshot(obj)
    client.force_login(investor)
    recently_signed_in(client)
    for method in ("GET", "POST"):
        status = _call(client, method, url, case.api)
        assert status in ((403,) if method in case.methods else (403, 405)), (name, method)
    assert _snapshot(obj) == before, name
    client.logout()
    for method in ("GET", "POST"):
        response = client.get(url) if method == "GET" else client.post(url, {"note": "x"})
        if response.status_code == 302:
            assert response["Location"].startswith(reverse("account_login")), (name, method)
        else:
            assert response.status_code == 405, (name, method, response.status_code)
    assert _snapshot(obj) == before, name


@pytest.mark.parametrize("name", sorted(CONSOLE_CASES))
def test_console_routes_refuse_investors_and_unassigned_advisers(name: str, client: Client) -> None:
    household = UserFactory(email="owner@example.com")
    _portfolio(household)
    url = reverse(name, kwargs={"pk": household.pk})
    callers = (
        (household, 403),
        (UserFactory(email="intruder@example.com"), 403),
        (UserFactory(email="adviser@example.com", is_staff=True), 404),
    )
    before = _snapshot(household)[0]  # row counts (the household's own sign-in moves last_login)
    for caller, expected in callers:
        client.force_login(caller)
        recently_signed_in(client, "mfa")
        for method in ("GET", "POST"):
            status = _call(client, method, url, False)
            allowed = method in CONSOLE_CASES[name]
            assert status == (expected if allowed else 405) or (status == 403 and not allowed), (
                name, caller.email, method, status,
            )  # fmt: skip
        client.logout()
    for method in ("GET", "POST"):
        response = client.get(url) if method == "GET" else client.post(url, {"note": "x"})
        assert response.status_code in (302, 405), (name, method)
        if response.status_code == 302:
            assert response["Location"].startswith(reverse("account_login"))
    assert _snapshot(household)[0] == before


def _admin_urls() -> list[str]:
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls += [reverse(f"{prefix}_changelist"), reverse(f"{prefix}_add")]
        urls.append(reverse(f"{prefix}_change", args=[1]))
    return urls


def test_staff_routes_answer_403_to_an_investor(client: Client, user) -> None:
    client.force_login(user)
    for url in _admin_urls():
        response = client.get(url, follow=True)
        assert response.status_code == 403, url
        response = client.post(url, {"name": "x"}, follow=True)
        assert response.status_code == 403, url
    for name in STAFF_ROUTES:
        assert client.get(reverse(name)).status_code == 403, name


def test_staff_routes_send_an_anonymous_visitor_to_the_allauth_sign_in(client: Client) -> None:
    for url in _admin_urls()[:10]:
        response = client.get(url, follow=True)
        assert response.redirect_chain, url
        assert response.redirect_chain[-1][0].startswith(reverse("account_login")), url


def test_api_lists_show_only_the_callers_objects(client: Client, user, other_user) -> None:
    mine, theirs = _lot(user), _lot(other_user)
    client.force_login(user)
    for path in ("/api/portfolios/", "/api/lots/", "/api/transactions/"):
        ids = {row["id"] for row in client.get(path).json()["results"]}
        assert theirs.pk not in ids or path == "/api/transactions/", path
    lots = {row["id"] for row in client.get("/api/lots/").json()["results"]}
    assert lots == {mine.pk}
    assert client.get(f"/api/lots/?portfolio={theirs.portfolio_id}").json()["results"] == []
