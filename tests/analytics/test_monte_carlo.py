"""Monte Carlo goal projections against closed forms."""

import math

import numpy as np
import pytest

from portfolios.analytics import monte_carlo as mc


def test_zero_volatility_equals_compound_growth() -> None:
    # 10,000 at 6% a year for exactly one year, no contributions: 10,600.
    p = mc.simulate(
        initial=10_000, contribution=0, months=12, mu=0.06, sigma=0.0, target=10_600, paths=100
    )
    assert np.allclose(p.final_wealth, 10_600.0, rtol=1e-12)
    assert p.final_percentiles[10.0] == pytest.approx(10_600.0, rel=1e-12)


def test_zero_volatility_with_contributions_equals_annuity_formula() -> None:
    # Hand computation: r = 1.06^(1/12) - 1 = 0.00486755; (1+r)^120 = 1.06^10 = 1.79084770;
    # 10,000 * 1.79084770 + 1,000 * 0.79084770 / 0.00486755 = 17,908.48 + 162,473.44 = 180,381.92
    p = mc.simulate(
        initial=10_000, contribution=1_000, months=120, mu=0.06, sigma=0.0, target=1.0, paths=50
    )
    assert np.allclose(p.final_wealth, 180_381.92, rtol=1e-7)
    assert mc.deterministic_value(
        initial=10_000, contribution=1_000, months=120, annual_return=0.06
    ) == pytest.approx(180_381.92, rel=1e-7)
    # zero return: contributions simply add up
    flat = mc.simulate(
        initial=500, contribution=100, months=24, mu=0.0, sigma=0.0, target=1.0, paths=10
    )
    assert np.allclose(flat.final_wealth, 500 + 2_400)


def test_probability_is_zero_or_one_without_volatility() -> None:
    kwargs = {
        "initial": 10_000,
        "contribution": 1_000,
        "months": 120,
        "mu": 0.06,
        "sigma": 0.0,
        "paths": 100,
    }
    assert mc.simulate(target=180_000, **kwargs).probability == 1.0
    assert mc.simulate(target=181_000, **kwargs).probability == 0.0


def test_lognormal_median_and_mean_match_analytic_values() -> None:
    mu, sigma, years = 0.07, 0.15, 10
    p = mc.simulate(
        initial=100_000,
        contribution=0,
        months=12 * years,
        mu=mu,
        sigma=sigma,
        target=1,
        paths=20_000,
    )
    # Analytic: s2 = ln(1 + 0.15^2 / 1.07^2) = 0.019461; m = ln 1.07 - s2/2 = 0.057928;
    # median = 100,000 * exp(10 m) = 178,475 ; mean = 100,000 * 1.07^10 = 196,715
    s2 = math.log(1 + sigma**2 / (1 + mu) ** 2)
    median = 100_000 * math.exp(years * (math.log(1 + mu) - s2 / 2))
    assert median == pytest.approx(178_475, rel=1e-4)
    assert mc.analytic_median(initial=100_000, months=120, mu=mu, sigma=sigma) == pytest.approx(
        median, rel=1e-12
    )
    assert p.final_percentiles[50.0] == pytest.approx(median, rel=0.01)
    assert float(np.mean(p.final_wealth)) == pytest.approx(100_000 * 1.07**10, rel=0.01)
    # the 10th / 90th percentiles of a lognormal: exp(m T +- 1.2816 sqrt(s2 T))
    spread = 1.2815516 * math.sqrt(s2 * years)
    assert p.final_percentiles[10.0] == pytest.approx(median * math.exp(-spread), rel=0.02)
    assert p.final_percentiles[90.0] == pytest.approx(median * math.exp(spread), rel=0.02)


def test_same_seed_same_result_other_seed_differs() -> None:
    kwargs = {
        "initial": 5_000,
        "contribution": 200,
        "months": 60,
        "mu": 0.06,
        "sigma": 0.12,
        "target": 20_000,
        "paths": 2_000,
    }
    a, b = mc.simulate(seed=7, **kwargs), mc.simulate(seed=7, **kwargs)
    c = mc.simulate(seed=8, **kwargs)
    assert np.array_equal(a.final_wealth, b.final_wealth)
    assert a.probability == b.probability
    assert not np.array_equal(a.final_wealth, c.final_wealth)


def test_required_contribution_reaches_the_probability_and_no_less_does() -> None:
    p = mc.simulate(
        initial=20_000,
        contribution=300,
        months=180,
        mu=0.065,
        sigma=0.13,
        target=250_000,
        paths=10_000,
    )
    need = mc.required_contribution(p, initial=20_000, target=250_000, probability=0.8)
    assert need > 300  # the current plan is short of 80%: p.probability < 0.8
    assert p.probability < 0.8
    assert mc.success_probability(p, initial=20_000, contribution=need, target=250_000) >= 0.8
    assert mc.success_probability(p, initial=20_000, contribution=need - 0.5, target=250_000) < 0.8


def test_required_contribution_without_volatility_is_the_annuity_solution() -> None:
    # target = 10,000 * g + c * (g - 1) / r  =>  c = (target - 10,000 g) r / (g - 1)
    p = mc.simulate(
        initial=10_000, contribution=0, months=120, mu=0.06, sigma=0.0, target=1, paths=20
    )
    need = mc.required_contribution(p, initial=10_000, target=180_381.92, probability=0.8)
    assert need == pytest.approx(1_000.0, rel=1e-6)
    assert mc.required_contribution(p, initial=10_000, target=5_000, probability=0.8) == 0.0


def test_more_contribution_never_lowers_probability() -> None:
    p = mc.simulate(
        initial=1_000, contribution=100, months=120, mu=0.07, sigma=0.16, target=30_000, paths=5_000
    )
    probs = [
        mc.success_probability(p, initial=1_000, contribution=c, target=30_000)
        for c in range(0, 400, 25)
    ]
    assert probs == sorted(probs)
    assert probs[0] < probs[-1]


def test_fan_chart_is_ordered_and_yearly() -> None:
    p = mc.simulate(
        initial=1_000, contribution=50, months=30, mu=0.07, sigma=0.16, target=3_000, paths=3_000
    )
    assert list(p.fan_months) == [0, 12, 24, 30]
    assert np.all(p.fan[10.0] <= p.fan[50.0]) and np.all(p.fan[50.0] <= p.fan[90.0])
    assert p.fan[50.0][0] == 1_000


def test_per_month_assumptions_are_accepted_and_validated() -> None:
    mu = np.full(24, 0.05)
    sigma = np.zeros(24)
    p = mc.simulate(initial=100, contribution=0, months=24, mu=mu, sigma=sigma, target=1, paths=5)
    assert np.allclose(p.final_wealth, 100 * 1.05**2)
    with pytest.raises(ValueError):
        mc.simulate(
            initial=100,
            contribution=0,
            months=24,
            mu=np.full(12, 0.05),
            sigma=0.1,
            target=1,
            paths=5,
        )
    with pytest.raises(ValueError):
        mc.simulate(initial=-1, contribution=0, months=24, mu=0.05, sigma=0.1, target=1, paths=5)
