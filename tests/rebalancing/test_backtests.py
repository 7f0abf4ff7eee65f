"""Backtests of an account's policy (service, task, cache, bad input) and the stress tests of
today's holdings, on the hand-checkable market of backtest_world."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts import questionnaire
from advisor.core import clock
from portfolios.models import Price, Security, TargetAllocation
from rebalancing import tasks
from rebalancing.forms import BacktestForm
from rebalancing.models import BacktestRun
from rebalancing.selectors import backtests as selectors
from rebalancing.selectors import stress as stress_selectors
from rebalancing.services import backtests
from tests.factories import UserFactory
from tests.rebalancing.backtest_world import (
    BUY_AND_HOLD_END,
    INITIAL,
    answer_questionnaire,
    make_backtest_world,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_costs(settings):
    settings.ADVISOR_PAPER_SLIPPAGE_BPS = 0.0
    settings.ADVISOR_PAPER_COMMISSION = 0.0


@pytest.fixture
def world(user, today):
    return make_backtest_world(user, today)


def _variant(run: BacktestRun, kind: str, value=None) -> dict:
    return next(
        v
        for v in run.result["variants"]
        if v["kind"] == kind and (value is None or v["value"] == value)
    )


def test_buy_and_hold_grows_by_the_weighted_growth_of_the_funds(world):
    run = backtests.request_backtest(world.portfolio, selectors.Request(bands=(0.03,)))
    assert run.status == BacktestRun.Status.DONE, run.error
    assert run.result["initial"] == INITIAL
    hold = _variant(run, "buy_and_hold")
    assert hold["final_value"] == pytest.approx(BUY_AND_HOLD_END, rel=1e-9)
    assert hold["trades"] == 2  # the day-0 purchase only
    assert hold["taxes_paid"] == 0
    # Never sold: after tax = value - 20% long-term tax on the 2,400 gain at liquidation.
    assert hold["after_tax_value"] == pytest.approx(BUY_AND_HOLD_END - 0.20 * 2_400.0, rel=1e-9)
    days = (world.dates[-1] - world.dates[0]).astype(int)
    assert hold["cagr"] == pytest.approx(1.2 ** (365.25 / days) - 1, rel=1e-9)
    assert run.result["convention"] == "calendar"
    assert (run.result["short_term_rate"], run.result["long_term_rate"]) == (0.30, 0.20)


def test_the_account_policy_and_the_alternatives_are_compared(world):
    run = backtests.request_backtest(
        world.portfolio, selectors.Request(bands=(0.02, 0.10), calendars=("monthly",))
    )
    kinds = [(v["kind"], v["value"]) for v in run.result["variants"]]
    assert kinds == [
        ("own", None), ("buy_and_hold", None), ("calendar", "monthly"), ("band", 0.02), ("band", 0.1),
    ]  # fmt: skip
    # Stocks outgrow bonds: from 60% they reach 60 x 1.3 / 120 = 65% of the account, so the
    # 2-point band trades, the 10-point band never does (same as buy and hold).
    assert _variant(run, "band", 0.02)["trades"] > 2
    assert _variant(run, "band", 0.1)["final_value"] == pytest.approx(BUY_AND_HOLD_END, rel=1e-9)
    assert _variant(run, "own")["trades"] == 2  # a 5-point band: 65% is at its edge, not beyond


def test_the_same_request_is_served_from_the_cache(world, django_assert_max_num_queries):
    request = selectors.Request(bands=(0.03,))
    first = backtests.request_backtest(world.portfolio, request)
    with django_assert_max_num_queries(15):
        again = backtests.request_backtest(world.portfolio, request)
    assert again.pk == first.pk and again.finished_at == first.finished_at
    assert BacktestRun.objects.count() == 1
    # A new close changes the inputs: a new run.
    last = Price.objects.filter(security=world.stocks).latest("date")
    Price.objects.filter(pk=last.pk).update(close=last.close + Decimal("1"))
    changed = backtests.request_backtest(world.portfolio, request)
    assert changed.pk != first.pk
    assert _variant(changed, "buy_and_hold")["final_value"] > BUY_AND_HOLD_END


def test_a_long_backtest_is_queued_and_the_task_computes_it_once(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(backtests, "INLINE_CELLS", 0)
    with django_capture_on_commit_callbacks(execute=False) as sent:
        run = backtests.request_backtest(world.portfolio, selectors.Request())
    assert run.status == BacktestRun.Status.QUEUED and len(sent) == 1
    assert tasks.run_backtest(run.pk) == "done"
    run.refresh_from_db()
    finished = run.finished_at
    assert tasks.run_backtest(run.pk) == "done"  # redelivered: nothing computed again
    run.refresh_from_db()
    assert run.finished_at == finished and run.progress == 100
    assert _variant(run, "buy_and_hold")["final_value"] == pytest.approx(BUY_AND_HOLD_END)


def test_a_run_claimed_by_another_worker_is_left_alone(world, monkeypatch):
    monkeypatch.setattr(backtests, "INLINE_CELLS", 0)
    run = backtests.request_backtest(world.portfolio, selectors.Request())
    BacktestRun.objects.filter(pk=run.pk).update(status="running", started_at=clock.now())
    assert tasks.run_backtest(run.pk) == "running"
    assert BacktestRun.objects.get(pk=run.pk).result == {}


def test_a_run_whose_worker_died_is_sent_again(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(backtests, "INLINE_CELLS", 0)
    run = backtests.request_backtest(world.portfolio, selectors.Request())
    BacktestRun.objects.filter(pk=run.pk).update(status="running", started_at=clock.now())
    run.refresh_from_db()
    assert not backtests.resume_if_stuck(run)  # still within its time limit
    BacktestRun.objects.filter(pk=run.pk).update(started_at=clock.now() - dt.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert backtests.resume_if_stuck(run)
    assert len(sent) == 1
    assert tasks.run_backtest(run.pk) == "done"


def test_a_window_without_prices_fails_with_a_clear_message(world):
    start = world.dates[0].item() - dt.timedelta(days=300)
    run = backtests.request_backtest(
        world.portfolio, selectors.Request(start=start, end=start + dt.timedelta(days=30))
    )
    assert run.status == BacktestRun.Status.FAILED
    assert "No price data between" in run.error


def test_a_fund_without_prices_is_named(world):
    Price.objects.filter(security=world.bonds).delete()
    run = backtests.request_backtest(world.portfolio, selectors.Request())
    assert run.status == BacktestRun.Status.FAILED
    assert run.error == "No prices at all for BON."


def test_an_account_without_a_target_is_refused(world):
    TargetAllocation.objects.filter(portfolio=world.portfolio).delete()
    with pytest.raises(selectors.BacktestInputError, match="no target allocation"):
        backtests.request_backtest(world.portfolio, selectors.Request())
    assert BacktestRun.objects.count() == 0


@pytest.mark.parametrize(
    ("bands", "message"),
    [
        ("0", "must be above 0%"),
        ("100", "below 100%"),
        ("-3", "must be above 0%"),
        ("3, x", "number"),
        ("1, 2, 3, 4, 5", "at most 4"),
        ("\u0663", "non-ASCII digits"),
        ("3\x00", "Null characters"),
        ("nan", "not a number"),
        ("1e999", "not a number"),
    ],
)
def test_bad_band_widths_are_refused(bands, message):
    form = BacktestForm({"bands": bands})
    assert not form.is_valid()
    assert message in " ".join(form.errors["bands"])


def test_a_future_or_reversed_window_is_refused(today):
    assert not BacktestForm({"start": (today + dt.timedelta(days=3)).isoformat()}).is_valid()
    form = BacktestForm(
        {
            "start": (today - dt.timedelta(days=5)).isoformat(),
            "end": (today - dt.timedelta(days=9)).isoformat(),
        }
    )
    assert not form.is_valid() and "after the start" in " ".join(form.errors["end"])


def test_the_page_shows_the_comparison_and_refuses_a_zero_band(client, world):
    client.force_login(world.user)
    url = reverse("backtests:account", args=[world.portfolio.pk])
    page = client.get(url, {"bands": "2, 10", "calendars": ["monthly"]})
    assert page.status_code == 200
    text = page.content.decode()
    assert "2-point band" in text and "10-point band" in text and "Buy and hold" in text
    assert "calendar days" in text and "30.0%" in text and "20.0%" in text  # convention, rates
    bad = client.get(url, {"bands": "0"})
    assert bad.status_code == 400 and "must be above 0%" in bad.content.decode()
    assert BacktestRun.objects.count() == 1


def test_another_investors_account_and_run_are_404(client, world):
    run = backtests.request_backtest(world.portfolio, selectors.Request())
    client.force_login(UserFactory(email="else@example.com"))
    assert client.get(reverse("backtests:account", args=[world.portfolio.pk])).status_code == 404
    assert client.get(reverse("backtests:status", args=[run.pk])).status_code == 404
    assert (
        client.get(reverse("backtests:account_stress", args=[world.portfolio.pk])).status_code
        == 404
    )


def test_the_status_poll_reloads_the_page_when_the_run_is_done(client, world, monkeypatch):
    monkeypatch.setattr(backtests, "INLINE_CELLS", 0)
    run = backtests.request_backtest(world.portfolio, selectors.Request())
    client.force_login(world.user)
    url = reverse("backtests:status", args=[run.pk])
    waiting = client.get(url)
    assert "HX-Refresh" not in waiting and 'value="0"' in waiting.content.decode()
    tasks.run_backtest(run.pk)
    assert client.get(url)["HX-Refresh"] == "true"


# --- stress tests ---------------------------------------------------------------------------


def test_the_stated_loss_is_read_from_the_answer_the_investor_saw():
    answers = [{"question": "outcome_range", "answer": "Best +15%, worst -12%"}]
    assert questionnaire.stated_loss_tolerance(answers) == pytest.approx(0.12)
    assert questionnaire.stated_loss_tolerance([{"question": "age", "answer": "30 to 44"}]) is None


def test_shocks_and_history_on_todays_holdings_against_the_stated_loss(world, user):
    answer_questionnaire(user)  # "worst -12%"
    world.portfolio.cash = Decimal("1000.00")
    world.portfolio.save(update_fields=["cash"])
    # COVID-19 crash window (fixed historical dates): the stock fund's own closes fall 30%;
    # the bond fund has no history then and takes its class's proxy, which rose 2%.
    proxy = Security.objects.create(
        ticker="OLDB", name="Old bond fund", asset_class=world.bonds.asset_class
    )
    Price.objects.bulk_create(
        [
            Price(security=world.stocks, date=dt.date(2020, 2, 19), close=Decimal("100")),
            Price(security=world.stocks, date=dt.date(2020, 3, 23), close=Decimal("70")),
            Price(security=proxy, date=dt.date(2020, 2, 19), close=Decimal("50")),
            Price(security=proxy, date=dt.date(2020, 3, 23), close=Decimal("51")),
        ]
    )
    data = stress_selectors.household_stress(user)
    assert data.household_value == pytest.approx(13_000.0)  # 60 x 130 + 80 x 52.5 + 1,000
    assert data.tolerance.fraction == pytest.approx(0.12)
    assert data.tolerance_money == pytest.approx(1_560.0)
    rows = {r.name: r for r in data.rows}
    covid = rows["COVID-19 crash 2020"]
    assert covid.available and covid.proxies == ("OLDB for BON",)
    assert covid.household_change == pytest.approx(-0.30 * 7_800 + 0.02 * 4_200)  # -2,256
    assert covid.exceeds  # 17.4% of 13,000 is more than 12%
    assert not rows["Financial crisis 2008-09"].available
    stocks = rows["Stocks fall 30%"]
    assert stocks.household_change == pytest.approx(-2_340.0) and stocks.exceeds
    rates = rows["Interest rates rise 2 points"]
    assert rates.household_change == pytest.approx(-6.0 * 0.02 * 4_200)  # duration 6: -504
    assert not rates.exceeds
    assert stress_selectors.worst(data.rows) is stocks
    assert stocks.account_change == {world.portfolio.pk: pytest.approx(-2_340.0)}


def test_a_household_without_holdings_has_no_stress_test(user):
    assert stress_selectors.household_stress(user) is None


def test_the_panels_show_the_stated_loss(client, world, user):
    answer_questionnaire(user)
    client.force_login(user)
    panel = client.get(
        reverse("backtests:account_stress", args=[world.portfolio.pk])
    ).content.decode()
    assert "12%" in panel and "$1,440" in panel and "more than you said you could bear" in panel
    household = client.get(reverse("backtests:household_stress")).content.decode()
    assert "Stocks fall 30%" in household and "beyond your limit" in household


def test_the_investors_own_scenario_moves_the_classes_they_name(client, world, user):
    data = stress_selectors.household_stress(user, own_shock={"us-stocks": -0.5, "us-bonds": 0.1})
    own = next(r for r in data.rows if r.name == stress_selectors.OWN_SHOCK)
    assert own.household_change == pytest.approx(-0.5 * 7_800 + 0.1 * 4_200)  # -3,480
    client.force_login(user)
    url = reverse("backtests:account_stress", args=[world.portfolio.pk])
    panel = client.get(url, {"shock-us-stocks": "-50", "shock-us-bonds": ""}).content.decode()
    assert "Your own scenario" in panel and "-$3,900" in panel
    refused = client.get(url, {"shock-us-stocks": "-150"}).content.decode()
    assert "nothing falls more than 100%" in refused and "Your own scenario</th>" not in refused
    odd = client.get(url, {"shock-us-stocks": "\u0663"}).content.decode()
    assert "non-ASCII digits" in odd


def test_a_new_run_clears_the_accounts_week_old_runs(world):
    old = backtests.request_backtest(world.portfolio, selectors.Request(bands=(0.03,)))
    recent = backtests.request_backtest(world.portfolio, selectors.Request(bands=(0.04,)))
    BacktestRun.objects.filter(pk=old.pk).update(created_at=clock.now() - dt.timedelta(days=8))
    new = backtests.request_backtest(world.portfolio, selectors.Request(bands=(0.05,)))
    assert set(BacktestRun.objects.values_list("pk", flat=True)) == {recent.pk, new.pk}


@pytest.mark.django_db(transaction=True)
def test_two_requests_at_the_same_moment_share_one_run(today, monkeypatch):
    import threading

    from django.db import connection

    from tests.factories import UserFactory as Users

    world = make_backtest_world(Users(email="twice@example.com"), today)
    barrier = threading.Barrier(2)
    found = []
    original = BacktestRun.objects.get_or_create

    def together(*args, **kwargs):
        barrier.wait(timeout=10)  # both have read the inputs; both now try to create
        return original(*args, **kwargs)

    monkeypatch.setattr(BacktestRun.objects, "get_or_create", together)

    def ask():
        try:
            found.append(backtests.request_backtest(world.portfolio, selectors.Request()).pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(found) == 2 and found[0] == found[1]
    assert BacktestRun.objects.get().status == BacktestRun.Status.DONE
