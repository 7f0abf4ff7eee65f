"""Every page an investor can reach, checked in a real Chromium: signed in as a demo-like
investor (an account that drifted with a proposal waiting, an empty account, a risk profile, a
goal), follow every link of the navigation, every link on those pages and on the account and
proposal pages, and run check_page on each (axe-core serious/critical = 0, no sideways
scrolling at 390 px)."""

import datetime as dt
import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from dateutil.relativedelta import relativedelta

from accounts import questionnaire
from accounts.models import Question
from portfolios.models import Goal
from portfolios.onboarding import services as onboarding
from tests.browser.a11y import check_page
from tests.conftest import screenshot
from tests.factories import PASSWORD, PortfolioFactory, UserFactory
from tests.rebalancing.proposal_data import drifted_household

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Not pages to check: signing out, the admin, the API, and downloads.
SKIP = re.compile(r"^/(accounts/logout|admin|api)/|\.csv$|/export")
# Beside the navigation's pages, every link of these is followed too (accounts, proposals, goals).
DEEP = re.compile(r"^/(portfolios|proposals|goals)/\d+/$")


def _household(today: dt.date):
    user = UserFactory(email="crawl@example.com", first_name="Dana", last_name="Demo")
    house = drifted_household(user)
    PortfolioFactory(
        owner=user, name="Roth IRA", tax_treatment="roth_ira", model=house.portfolio.model
    )
    version = questionnaire.ensure_default_questionnaire()
    onboarding.submit_assessment(
        user,
        questionnaire_version=version,
        selections={
            q.code: q.options.last().pk
            for q in version.questions.prefetch_related("options")
            if q.kind == Question.Kind.CHOICE
        },
        amount=Decimal("25000"),
    )
    goal = Goal.objects.create(
        user=user, name="House deposit", target_amount=Decimal("80000"),
        target_date=today + relativedelta(years=8), monthly_contribution=Decimal("450"),
    )  # fmt: skip
    goal.portfolios.add(house.portfolio)
    return user


def _sign_in(page, url: str, email: str) -> None:
    page.goto(f"{url}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{url}/")


def checked_account(checked: list[str]) -> str:
    return next(h for h in checked if re.match(r"^/portfolios/\d+/$", h))


def _links(page, selector: str) -> list[str]:
    hrefs = page.eval_on_selector_all(selector, "els => els.map(a => a.getAttribute('href'))")
    return [h for h in hrefs if h and h.startswith("/") and not SKIP.search(urlsplit(h).path)]


def test_every_page_reachable_from_the_navigation_passes_axe_and_fits_a_phone(
    page, live_server, today
) -> None:
    user = _household(today)
    page.goto(f"{live_server.url}/accounts/login/")
    check_page(page, "sign-in")
    _sign_in(page, live_server.url, user.email)

    nav = _links(page, "header a")
    queue = ["/", *nav]
    seen: set[str] = set()
    checked = []
    while queue:
        href = queue.pop(0)
        path = urlsplit(href).path
        if href in seen:
            continue
        seen.add(href)
        response = page.goto(f"{live_server.url}{href}")
        assert response is not None and response.ok, (href, response and response.status)
        page.wait_for_load_state("load")
        check_page(page, href)
        checked.append(href)
        if href == "/" or href in nav or DEEP.match(path):
            queue += _links(page, "main a")
    # the warning banner (no risk profile yet, accounts already open) and its link pass axe too
    page.context.clear_cookies()
    other = UserFactory(email="banner@example.com")
    PortfolioFactory(owner=other)
    _sign_in(page, live_server.url, other.email)
    assert page.locator("#profile-review a").is_visible()
    check_page(page, "dashboard with the questionnaire banner")

    page.context.clear_cookies()
    _sign_in(page, live_server.url, user.email)
    page.set_viewport_size({"width": 390, "height": 844})
    for name, href in (("dashboard", "/"), ("account", checked_account(checked))):
        page.goto(f"{live_server.url}{href}")
        screenshot(page, f"crawl-{name}-phone")
    # the nav pages, both accounts, the proposal, and what they link to
    assert {"/", "/portfolios/", "/proposals/", "/goals/", "/profile/", "/methodology/"} <= {
        urlsplit(h).path for h in checked
    }
    assert sum(1 for h in checked if DEEP.match(urlsplit(h).path)) >= 3, checked
    for page_path in (
        r"^/goals/\d+/$",
        r"^/profile/assessments/\d+/$",
        r"^/profile/accounts/\d+/fund/$",
    ):
        assert any(re.match(page_path, urlsplit(h).path) for h in checked), (page_path, checked)
    assert len(checked) >= 25, checked
