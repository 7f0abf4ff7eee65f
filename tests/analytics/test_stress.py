"""Stress tests on hand-worked holdings and prices."""

import numpy as np
import pandas as pd
import pytest

from portfolios.analytics import stress

# Household "h1": account 1 holds 60,000 of SPY and 40,000 of AGG; account 2 holds 10,000 of
# NEWFUND (a US equity fund with no prices before 2009) and 5,000 cash. Household "h2":
# account 3 holds 50,000 of AGG.
HOLDINGS = stress.Holdings(
    account=np.array([1, 1, 2, 2, 3]),
    security=np.array(["SPY", "AGG", "NEWFUND", "CASH", "AGG"], dtype=object),
    value=np.array([60_000.0, 40_000.0, 10_000.0, 5_000.0, 50_000.0]),
)
CLASSES = {"SPY": "us-equity", "AGG": "us-bonds", "NEWFUND": "us-equity", "CASH": "cash"}
HOUSEHOLD = {1: "h1", 2: "h1", 3: "h2"}


def prices() -> pd.DataFrame:
    index = pd.bdate_range("2007-01-01", "2012-12-31")
    frame = pd.DataFrame({"SPY": 100.0, "AGG": 100.0, "NEWFUND": np.nan}, index=index)
    # 2008-09 window (9 Oct 2007 .. 9 Mar 2009): SPY 100 -> 45, AGG 100 -> 105
    frame.loc["2007-10-10":, "SPY"] = 45.0
    frame.loc["2007-10-10":, "AGG"] = 105.0
    frame.loc["2009-06-01":, "NEWFUND"] = 20.0
    # 2011 window (29 Apr .. 3 Oct 2011): SPY 45 -> 36 (-20%), NEWFUND 20 -> 15 (-25%)
    frame.loc["2011-05-02":, "SPY"] = 36.0
    frame.loc["2011-05-02":, "NEWFUND"] = 15.0
    return frame


def test_historical_scenarios_with_a_proxy_for_a_young_fund() -> None:
    scenarios = [s for s in stress.SCENARIOS if s.name.startswith(("Financial", "Euro"))]
    result = stress.historical(
        HOLDINGS,
        prices(),
        CLASSES,
        proxies={"us-equity": "SPY", "us-bonds": "AGG"},
        scenarios=scenarios,
        household_of=HOUSEHOLD,
        tolerance={"h1": 0.30, "h2": 0.10},
    )
    crisis, euro = 0, 1
    j = result.securities.index("NEWFUND")
    assert result.source[crisis, j] == "proxy SPY" and result.source[euro, j] == "own"
    assert result.source[crisis, result.securities.index("CASH")] == "cash"
    # 2008-09, account 1: 60,000 x -55% + 40,000 x +5% = -31,000;
    # account 2: 10,000 x -55% (SPY as proxy) + cash 0 = -5,500; account 3: 50,000 x 5% = 2,500
    np.testing.assert_allclose(result.account_change[crisis], [-31_000.0, -5_500.0, 2_500.0])
    # household h1 loses 36,500 of 115,000 = 31.7%: deeper than the 30% it said it could bear
    np.testing.assert_allclose(result.household_change[crisis], [-36_500.0, 2_500.0])
    assert result.household_change_fraction[crisis, 0] == pytest.approx(-36_500 / 115_000)
    assert result.exceeds[crisis].tolist() == [True, False]
    # 2011: SPY -20%, NEWFUND its own -25%, AGG flat
    np.testing.assert_allclose(result.account_change[euro], [-12_000.0, -2_500.0, 0.0])
    assert result.exceeds[euro].tolist() == [False, False]
    table = result.table()
    assert len(table) == 4 and set(table["household"]) == {"h1", "h2"}


def test_a_scenario_without_data_is_unavailable_not_partial() -> None:
    result = stress.historical(
        HOLDINGS, prices(), CLASSES, proxies={"us-bonds": "AGG"}, household_of=HOUSEHOLD
    )
    names = list(result.scenarios)
    dotcom = names.index("Dot-com bust 2000-02")
    assert not result.available[dotcom] and "SPY" in result.reason[dotcom]
    crisis = names.index("Financial crisis 2008-09")
    # without an equity proxy NEWFUND has no 2008 history: the scenario is not computed
    assert not result.available[crisis] and "NEWFUND" in result.reason[crisis]
    assert np.isnan(result.household_change[crisis]).all()
    assert result.available[names.index("Euro debt crisis 2011")]


def test_hypothetical_shocks_by_class_and_duration() -> None:
    shocks = [
        stress.Shock("Equities -30%", {"us-equity": -0.30}),
        stress.Shock("Rates +200bp", rate_change=0.02),
    ]
    result = stress.hypothetical(
        HOLDINGS,
        CLASSES,
        shocks,
        duration={"AGG": 6.0},
        convexity={"AGG": 50.0},
        household_of=HOUSEHOLD,
    )
    # rates: AGG -6 x 0.02 + 0.5 x 50 x 0.0004 = -12% + 1% = -11%
    np.testing.assert_allclose(result.returns[1], [0.0, -0.11, 0.0, 0.0])
    np.testing.assert_allclose(result.account_change[0], [-18_000.0, -3_000.0, 0.0])
    np.testing.assert_allclose(result.account_change[1], [-4_400.0, 0.0, -5_500.0])
    np.testing.assert_allclose(result.household_value, [115_000.0, 50_000.0])


def test_unknown_class_is_an_error() -> None:
    with pytest.raises(ValueError, match="No asset class for NEWFUND"):
        stress.hypothetical(HOLDINGS, {"SPY": "e", "AGG": "b", "CASH": "cash"}, [])
