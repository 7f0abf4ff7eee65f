"""The tax-aware backtest on hand-worked cases (two securities, prices held flat between the
days that move them, no costs, cash buffer and minimum trade 0, fractional shares)."""

import numpy as np
import pandas as pd
import pytest

from rebalancing.engine import backtest, backtest_tax, policy
from rebalancing.engine.backtest_tax import HarvestRules, TaxSettings, year_tax

TARGET = pd.Series({"A": 0.5, "B": 0.5})
PLAIN = {
    "absolute_band": 0.05,
    "relative_band": np.nan,
    "cash_buffer": 0.0,
    "min_trade": 0.0,
    "cash_flow": False,
    "allow_short_term_gains": True,
}


def flat_prices(
    start: str, end: str, moves: dict[str, dict[str, float]], **extra: float
) -> pd.DataFrame:
    """Weekday closes of 100 for A and B (and `extra` columns at their price), changed on the
    dates of `moves` ({date: {ticker: price}}) and held until the next move."""
    index = pd.bdate_range(start, end)
    frame = pd.DataFrame({"A": 100.0, "B": 100.0, **extra}, index=index)
    for date, prices in sorted(moves.items()):
        for ticker, price in prices.items():
            frame.loc[pd.Timestamp(date) :, ticker] = price
    return frame


def one(**values: object) -> policy.Policies:
    return policy.Policies.uniform(1, **{**PLAIN, **values})


def test_a_wash_sale_defers_the_loss_into_the_replacement() -> None:
    # 4 Jan: 1,000 buys 5 A and 5 B at 100.
    # 18 Jan: A 80, B 60 -> A is 400 of 700 (57%): back to 350 each: sell 0.625 A at 80
    #   (loss 0.625 x 20 = 12.50, short-term), buy 50/60 = 0.8333 B.
    # 1 Feb: B back to 100 -> A 350 of 933.33 (37.5%): A to 466.67: buy 116.67/80 = 1.4583 A,
    #   14 days after the loss sale. The 0.625 A sold are replaced: 12.50 disallowed, added to
    #   the basis of 0.625 of the new shares (0.625 x 80 + 12.50 = 62.50), whose holding period
    #   starts 14 days early (the sold shares were held 4 -> 18 Jan), on 18 Jan.
    #   B sells 116.67 from its 100-basis lot first (gain 0 per share, the smallest gain).
    prices = flat_prices(
        "2021-01-04",
        "2021-03-31",
        {"2021-01-18": {"A": 80.0, "B": 60.0}, "2021-02-01": {"B": 100.0}},
    )
    result = backtest_tax.run(
        prices, TARGET, one(), initial=1_000.0, tax=TaxSettings(wash_sale_guard=False)
    )
    tax = result.tax
    assert tax.wash_sales[0] == 1
    assert tax.disallowed[0] == pytest.approx(12.5)
    year = list(tax.years).index(2021)
    assert tax.realised_short_term[year, 0] == pytest.approx(0.0, abs=1e-9)
    lots = tax.lots[tax.lots["security"] == "A"].sort_values("shares")
    replacement = lots.iloc[0]
    assert replacement["shares"] == pytest.approx(0.625)
    assert replacement["cost_basis"] == pytest.approx(62.5)
    assert replacement["holding_start"] == np.datetime64("2021-01-18")
    assert replacement["acquired"] == np.datetime64("2021-02-01")
    rest = lots.iloc[1:]
    assert rest["shares"].sum() == pytest.approx(4.375 + 1.458333 - 0.625, rel=1e-5)
    sale = result.trades.frame(result.dates, result.securities)
    sale = sale[(sale["side"] == "sell") & (sale["security"] == "A")]
    assert sale["short_term_gain"].sum() == pytest.approx(-12.5)


def test_the_wash_sale_guard_keeps_the_loss_lot() -> None:
    # Same prices with the product's guard: A was bought 14 days before 18 Jan, so its lot at
    # a loss is not sold (and nothing is disallowed).
    prices = flat_prices(
        "2021-01-04",
        "2021-03-31",
        {"2021-01-18": {"A": 80.0, "B": 60.0}, "2021-02-01": {"B": 100.0}},
    )
    result = backtest_tax.run(prices, TARGET, one(), initial=1_000.0, tax=TaxSettings())
    log = result.trades.frame(result.dates, result.securities)
    assert log[(log["side"] == "sell") & (log["security"] == "A")].empty
    assert result.tax.wash_sales[0] == 0


@pytest.mark.parametrize(
    ("sold_on", "short", "long"),
    [("2022-02-28", 41.6667, 0.0), ("2022-03-02", 0.0, 41.6667)],
)
def test_short_and_long_term_at_364_and_366_days(sold_on: str, short: float, long: float) -> None:
    # Bought 1 Mar 2021. A rises to 150: A 750 of 1,250 (60%): sell 125 of A = 0.8333 shares
    # at a gain of 50 each = 41.67; 364 days after purchase it is short-term, 366 long-term
    # (the anniversary, 1 Mar 2022, is the last short-term day).
    prices = flat_prices("2021-03-01", "2022-03-31", {sold_on: {"A": 150.0}})
    result = backtest_tax.run(prices, TARGET, one(), initial=1_000.0, tax=TaxSettings())
    year = list(result.tax.years).index(2022)
    assert result.tax.realised_short_term[year, 0] == pytest.approx(short, abs=1e-3)
    assert result.tax.realised_long_term[year, 0] == pytest.approx(long, abs=1e-3)
    assert result.trades.day[result.trades.side < 0].tolist() == [
        result.dates.tolist().index(np.datetime64(sold_on))
    ]


def test_short_term_gains_are_held_back_unless_the_policy_allows_them() -> None:
    # Not allowed: A stays overweight from 28 Feb until its lot turns long-term on 2 Mar.
    prices = flat_prices("2021-03-01", "2022-03-31", {"2022-02-28": {"A": 150.0}})
    result = backtest_tax.run(
        prices, TARGET, one(allow_short_term_gains=False), initial=1_000.0, tax=TaxSettings()
    )
    sells = result.trades.side < 0
    assert result.dates[result.trades.day[sells]].tolist() == [np.datetime64("2022-03-02")]
    assert result.trades.long_term_gain[sells].sum() == pytest.approx(125 / 150 * 50)


def test_buy_and_hold_after_tax_is_pre_tax_less_tax_on_liquidation() -> None:
    rng = np.random.default_rng(2)
    index = pd.bdate_range("2018-01-02", "2021-06-30")
    prices = pd.DataFrame(
        100 * np.cumprod(1 + rng.normal(0.0008, 0.01, (len(index), 2)), axis=0),
        index=index,
        columns=["A", "B"],
    )
    hold = one(absolute_band=np.nan)
    pre = backtest.run(prices, TARGET, hold, initial=1_000_000.0)
    post = backtest_tax.run(prices, TARGET, hold, initial=1_000_000.0, tax=TaxSettings())
    np.testing.assert_allclose(post.value, pre.value, rtol=1e-12)
    final = pre.value[-1, 0]
    assert final > 1_200_000.0
    # every lot is over three years old: long-term, 15%, on the gain over the 1,000,000 paid
    assert post.tax.after_tax_value[0] == pytest.approx(final - 0.15 * (final - 1_000_000.0))
    assert post.tax.tax_paid[0] == 0.0 and post.tax.owed[0] == 0.0


def test_tax_is_paid_out_of_the_portfolio_the_next_april() -> None:
    # The 364-day case realises a short-term gain of 41.67 in 2022: 35% = 14.58 is taken out
    # on Monday 17 April 2023 (15 April is a Saturday); prices are flat, so the value drops by
    # exactly the tax.
    prices = flat_prices("2021-03-01", "2023-06-30", {"2022-02-28": {"A": 150.0}})
    result = backtest_tax.run(prices, TARGET, one(), initial=1_000.0, tax=TaxSettings())
    tax = 0.35 * 125 / 150 * 50
    assert result.tax.tax_paid[0] == pytest.approx(tax)
    day = result.dates.tolist().index(np.datetime64("2023-04-17"))
    assert result.value[day - 1, 0] - result.value[day, 0] == pytest.approx(tax)
    rules = set(result.trades.rule[result.trades.day == day])
    assert rules == {"tax"}
    kept = backtest_tax.run(
        prices, TARGET, one(), initial=1_000.0, tax=TaxSettings(pay_taxes=False)
    )
    assert kept.tax.tax_paid[0] == 0.0 and kept.tax.owed[0] == pytest.approx(tax)


def test_harvest_sells_the_loss_and_buys_the_replacement() -> None:
    # A falls to 70 on 1 Jun 2021 (a loss of 30 a share on 5 shares = 150 on 1,000 invested,
    # 30% of basis); with a 100 minimum the harvest sells the A lot and buys A2 (same class) for
    # the proceeds; A2 moves like A.
    prices = flat_prices(
        "2021-01-04", "2021-09-30", {"2021-06-01": {"A": 70.0, "A2": 35.0}}, A2=50.0
    )
    result = backtest_tax.run(
        prices,
        TARGET,
        one(absolute_band=np.nan),
        asset_class={"A": "equity", "A2": "equity", "B": "bonds"},
        initial=1_000.0,
        tax=TaxSettings(
            harvest=HarvestRules(min_loss_amount=100.0, min_net_benefit=0.0),
            replacements={"A": ["A2"]},
        ),
    )
    assert result.tax.harvests[0] == 1
    assert result.tax.harvested_loss[0] == pytest.approx(150.0)
    year = list(result.tax.years).index(2021)
    assert result.tax.realised_short_term[year, 0] == pytest.approx(-150.0)
    lots = result.tax.lots
    assert set(lots["security"]) == {"A2", "B"}
    assert lots.loc[lots["security"] == "A2", "shares"].sum() == pytest.approx(350.0 / 35.0)
    # the after-tax value counts the carried loss at nothing: no gain left to offset
    assert result.tax.after_tax_value[0] == pytest.approx(result.value[-1, 0])


def test_an_ira_pays_no_tax() -> None:
    prices = flat_prices("2021-03-01", "2023-06-30", {"2022-02-28": {"A": 150.0}})
    result = backtest_tax.run(
        prices, TARGET, one(), initial=1_000.0, tax=TaxSettings(taxable=False)
    )
    assert result.tax.tax_paid[0] == 0.0
    assert result.tax.after_tax_value[0] == pytest.approx(result.value[-1, 0])


@pytest.mark.parametrize(
    ("short", "long", "carry", "tax", "carry_out"),
    [
        (100.0, 200.0, (0.0, 0.0), 100 * 0.35 + 200 * 0.15, (0.0, 0.0)),
        (-50.0, 200.0, (0.0, 0.0), 150 * 0.15, (0.0, 0.0)),  # short-term loss offsets long
        (100.0, -300.0, (0.0, 0.0), 0.0, (0.0, 200.0)),  # net loss carried as long-term
        (100.0, 0.0, (30.0, 20.0), 50 * 0.35, (0.0, 0.0)),  # carried losses used first
        (-10.0, -5.0, (0.0, 0.0), 0.0, (10.0, 5.0)),
    ],
)
def test_year_tax_netting(short, long, carry, tax, carry_out) -> None:
    due, cs, cl = year_tax(
        np.array([short]), np.array([long]), np.array([carry[0]]), np.array([carry[1]]), 0.35, 0.15
    )
    assert due[0] == pytest.approx(tax)
    assert (cs[0], cl[0]) == pytest.approx(carry_out)


def test_a_purchase_in_the_households_ira_disallows_the_loss_for_good() -> None:
    # The wash-sale case above, and the household's IRA buys 100 of A (1.25 shares at 80) on
    # 25 Jan, a week after the loss sale and before this account buys A again on 1 Feb: the
    # first replacement is the IRA's, so the 12.50 loss is lost for good and this account's
    # new lot keeps its own basis.
    prices = flat_prices(
        "2021-01-04",
        "2021-03-31",
        {"2021-01-18": {"A": 80.0, "B": 60.0}, "2021-02-01": {"B": 100.0}},
    )
    ira = pd.DataFrame(
        {"date": ["2021-01-25"], "security": ["A"], "value": [100.0], "tax_advantaged": [True]}
    )
    result = backtest_tax.run(
        prices,
        TARGET,
        one(),
        initial=1_000.0,
        tax=TaxSettings(wash_sale_guard=False, household_purchases=ira),
    )
    tax = result.tax
    assert tax.wash_sales[0] == 1
    assert tax.disallowed[0] == pytest.approx(12.5)
    assert tax.disallowed_outside[0] == pytest.approx(12.5)
    assert tax.realised_short_term[list(tax.years).index(2021), 0] == pytest.approx(0.0, abs=1e-9)
    bought = tax.lots[tax.lots["acquired"] == np.datetime64("2021-02-01")]
    assert bought["cost_basis"].sum() == pytest.approx(bought["shares"].sum() * 80.0)


@pytest.mark.parametrize(("ira_buys", "sold_on"), [(False, "2021-06-01"), (True, "2021-06-21")])
def test_the_guard_sees_purchases_in_the_households_other_accounts(
    ira_buys: bool, sold_on: str
) -> None:
    # Bought 1 Mar 2021; on 1 Jun A is 80 and B 60: A (a loss) is overweight and sold, unless
    # the household's IRA bought A on 20 May: then not until the window ends (day 30 is
    # Saturday 19 June; the next trading day is Monday 21 June).
    prices = flat_prices("2021-03-01", "2021-08-31", {"2021-06-01": {"A": 80.0, "B": 60.0}})
    ira = pd.DataFrame(
        {"date": ["2021-05-20"], "security": ["A"], "value": [500.0], "tax_advantaged": [True]}
    )
    result = backtest_tax.run(
        prices,
        TARGET,
        one(),
        initial=1_000.0,
        tax=TaxSettings(household_purchases=ira if ira_buys else None),
    )
    log = result.trades.frame(result.dates, result.securities)
    sales = log[(log["side"] == "sell") & (log["security"] == "A")]
    assert sales["date"].tolist() == [pd.Timestamp(sold_on)]
    assert result.tax.wash_sales[0] == 0
