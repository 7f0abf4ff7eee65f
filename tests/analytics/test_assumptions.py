"""Capital market assumptions, portfolio estimates, historical statistics, glide path."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from portfolios.analytics import assumptions, glide_path, returns


def test_correlation_matrix_is_symmetric_positive_definite_with_unit_diagonal() -> None:
    corr = assumptions.correlation_matrix()
    assert np.allclose(corr, corr.T)
    assert np.allclose(np.diag(corr), 1.0)
    assert np.linalg.eigvalsh(corr).min() > 0


def test_sixty_forty_estimate_is_hand_computed() -> None:
    # mu = .6*.075 + .4*.045 = .063 ; var = .36*.16^2 + .16*.05^2 + 2*.6*.4*.10*.16*.05
    #    = .009216 + .0004 + .000384 = .01  ->  volatility 10%
    est = assumptions.portfolio_estimate({"us-stocks": 60, "us-bonds": 40})
    assert est.expected_return == pytest.approx(0.063)
    assert est.volatility == pytest.approx(0.10)
    assert est.weights == pytest.approx({"us-stocks": 0.6, "us-bonds": 0.4})


def test_unknown_codes_are_mapped_not_rejected() -> None:
    assert assumptions.canonical_class("us-small-cap-value") == "us-stocks"
    assert assumptions.canonical_class("Emerging_Markets") == "emerging"
    assert assumptions.canonical_class("muni-bonds") == "us-bonds"
    assert assumptions.canonical_class("global-bonds-hedged") == "intl-bonds"
    assert assumptions.canonical_class("money-market") == "cash"
    assert assumptions.canonical_class("crypto") == "other"
    assert (
        assumptions.portfolio_estimate({"crypto": 1.0}).expected_return
        == assumptions.EXPECTED_RETURN["other"]
    )
    assert assumptions.portfolio_estimate({}).weights == {"cash": 1.0}
    with pytest.raises(ValueError):
        assumptions.portfolio_estimate({"us-stocks": -0.1})


def test_bad_year_matches_scipy_lognormal_quantile() -> None:
    mu, sigma = 0.07, 0.16
    s2 = math.log(1 + sigma**2 / (1 + mu) ** 2)
    m = math.log(1 + mu) - s2 / 2
    expected = stats.lognorm(s=math.sqrt(s2), scale=math.exp(m)).ppf(0.05) - 1
    assert assumptions.bad_year_return(mu, sigma) == pytest.approx(expected, rel=1e-9)
    assert -0.25 < expected < -0.15


def test_historical_statistics_hand_computed() -> None:
    prices = pd.DataFrame({"A": [100.0, 110.0, 99.0], "B": [np.nan, 50.0, 55.0]})
    # A: returns +10%, -10%. B: one return +10% (starts later).
    assert returns.annualised_arithmetic_return(prices)["A"] == pytest.approx(0.0)
    assert returns.annualised_geometric_return(prices)["A"] == pytest.approx(0.99**6 - 1)
    assert returns.annualised_geometric_return(prices)["B"] == pytest.approx(1.1**12 - 1)
    assert returns.annualised_volatility(prices)["A"] == pytest.approx(
        math.sqrt(0.02) * math.sqrt(12)
    )
    assert returns.portfolio_volatility(
        np.array([0.5, 0.5]), np.array([[0.04, 0.0], [0.0, 0.01]])
    ) == pytest.approx(math.sqrt(0.25 * 0.04 + 0.25 * 0.01))


@pytest.mark.parametrize(
    ("years", "cap"),
    [
        (30, 10),
        (20, 10),
        (19.9, 9),
        (12, 8),
        (8, 7),
        (6, 6),
        (4, 5),
        (2.5, 4),
        (1.5, 3),
        (0.5, 2),
        (-1, 2),
    ],
)
def test_glide_path_caps(years: float, cap: int) -> None:
    assert glide_path.level_cap(years) == cap
    assert glide_path.glide_level(10, years) == cap
    assert glide_path.glide_level(1, years) == 1  # a cautious investor is never pushed up


def test_glide_path_steps_down_as_the_date_nears() -> None:
    levels = glide_path.monthly_levels(8, 15 * 12)
    assert levels[0] == 8
    assert levels == sorted(levels, reverse=True)
    assert levels[-1] == 2
    steps = glide_path.schedule(8, 15)
    assert [s.level for s in steps] == [8, 7, 6, 5, 4, 3, 2]
    assert [s.years_left for s in steps] == [15, 10, 7, 5, 3, 2, 1]
