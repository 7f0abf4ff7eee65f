"""Blended benchmarks and regression statistics against independent computations: a
unit-holding simulation of the monthly rebalanced blend, numpy least squares and statsmodels."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolios.analytics import benchmark, regression


def _closes(seed: int, days: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    dates = np.arange("2023-01-02", "2024-12-31", dtype="datetime64[D]")
    dates = dates[np.is_busday(dates)][:days]
    closes = 100 * np.cumprod(1 + rng.normal(0.0003, 0.01, size=(len(dates), classes)), axis=0)
    return dates, closes


def _unit_holding_benchmark(dates: np.ndarray, closes: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Hold units of each index; at every month-end close sell everything and buy back at
    the target weights. Value series -> daily returns."""
    value = np.empty(len(dates))
    units = w * 1.0 / closes[0]
    value[0] = 1.0
    for t in range(1, len(dates)):
        value[t] = units @ closes[t]
        month_ends = t + 1 < len(dates) and (
            dates[t + 1].astype("datetime64[M]") != dates[t].astype("datetime64[M]")
        )
        if month_ends:
            units = w * value[t] / closes[t]
    returns = np.full(len(dates), np.nan)
    returns[1:] = value[1:] / value[:-1] - 1
    return returns


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(2, 5))
def test_blend_equals_monthly_rebalanced_unit_holdings(seed: int, classes: int) -> None:
    dates, closes = _closes(seed, 300, classes)
    rng = np.random.default_rng(seed + 1)
    weights = rng.dirichlet(np.ones(classes), size=3)
    result = benchmark.blended_benchmark(dates, closes, weights, with_class_weights=True)
    for a in range(3):
        expected = _unit_holding_benchmark(dates, closes, weights[a])
        np.testing.assert_allclose(result.returns[:, a], expected, rtol=1e-10, atol=1e-13)
    # class weights x class returns rebuild the benchmark's daily return
    rebuilt = (result.class_weights[1:] * result.class_returns[1:, None, :]).sum(axis=2)
    np.testing.assert_allclose(rebuilt, result.returns[1:], rtol=1e-10, atol=1e-13)
    # weights reset to the targets on the first trading day of every month
    first_days = np.flatnonzero(benchmark.month_starts(dates))
    np.testing.assert_allclose(
        result.class_weights[first_days[1:], 0], weights[0][None].repeat(len(first_days) - 1, 0)
    )


def test_a_single_picked_security_is_its_own_return() -> None:
    dates, closes = _closes(3, 50, 2)
    result = benchmark.blended_benchmark(dates, closes, np.array([0.0, 1.0]))
    np.testing.assert_allclose(
        result.returns[1:], closes[1:, 1] / closes[:-1, 1] - 1, rtol=1e-12, atol=1e-15
    )
    with pytest.raises(ValueError, match="sum to 1"):
        benchmark.blended_benchmark(dates, closes, np.array([0.5, 0.4]))


def _regression_data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    b = rng.normal(0.0004, 0.01, 500)
    rf = np.full(500, 0.0001)
    r = 0.0002 + 1.3 * (b - rf) + rf + rng.normal(0, 0.004, 500)
    return r, b, rf


def test_alpha_beta_equal_least_squares_to_1e10() -> None:
    r, b, rf = _regression_data(7)
    stats = regression.benchmark_statistics(r, b, risk_free=rf, periods_per_year=252)
    design = np.column_stack([np.ones(len(b)), b - rf])
    (alpha, beta), *_ = np.linalg.lstsq(design, r - rf, rcond=None)
    assert abs(stats.alpha - alpha) < 1e-10 and abs(stats.beta - beta) < 1e-10
    fit = sm.OLS(r - rf, sm.add_constant(b - rf)).fit()
    assert abs(stats.alpha - fit.params[0]) < 1e-10
    assert abs(stats.beta - fit.params[1]) < 1e-10
    assert abs(stats.r_squared - fit.rsquared) < 1e-10
    active = r - b
    assert stats.tracking_error == pytest.approx(active.std(ddof=1) * np.sqrt(252), rel=1e-12)
    assert stats.information_ratio == pytest.approx(
        active.mean() * 252 / stats.tracking_error, rel=1e-12
    )
    assert stats.alpha_annualised == pytest.approx(alpha * 252, rel=1e-12)
    assert int(stats.n_observations) == 500


def test_many_accounts_with_their_own_gaps_match_one_at_a_time() -> None:
    r, b, rf = _regression_data(11)
    rng = np.random.default_rng(12)
    returns = np.column_stack([r + rng.normal(0, 0.002, len(r)) for _ in range(4)])
    returns[:100, 1] = np.nan  # opened later
    returns[::7, 2] = np.nan
    stats = regression.benchmark_statistics(returns, b, risk_free=rf)
    for a in range(4):
        keep = np.isfinite(returns[:, a])
        fit = sm.OLS(returns[keep, a] - rf[keep], sm.add_constant(b[keep] - rf[keep])).fit()
        assert abs(stats.alpha[a] - fit.params[0]) < 1e-10
        assert abs(stats.beta[a] - fit.params[1]) < 1e-10
        assert abs(stats.r_squared[a] - fit.rsquared) < 1e-10
    assert stats.n_observations.tolist() == [500, 400, 500 - len(range(0, 500, 7)), 500]


def test_too_few_observations_or_a_flat_benchmark_give_nan() -> None:
    stats = regression.benchmark_statistics(np.array([0.01, 0.02]), np.array([0.01, 0.03]))
    assert np.isnan(stats.beta)
    flat = regression.benchmark_statistics(np.array([0.01, 0.02, 0.0]), np.zeros(3))
    assert np.isnan(flat.beta) and np.isnan(flat.alpha)


def test_factor_regression_equals_statsmodels() -> None:
    rng = np.random.default_rng(5)
    factors = rng.normal(0, 0.04, size=(240, 3))
    y = 0.001 + factors @ np.array([1.0, 0.2, -0.3]) + rng.normal(0, 0.01, 240)
    ours = regression.factor_regression(y, factors)
    fit = sm.OLS(y, sm.add_constant(factors)).fit()
    np.testing.assert_allclose(np.r_[ours.alpha, ours.betas], fit.params, atol=1e-12)
    np.testing.assert_allclose(ours.std_errors, fit.bse, rtol=1e-10)
    np.testing.assert_allclose(ours.t_stats, fit.tvalues, rtol=1e-10)
    assert ours.r_squared == pytest.approx(fit.rsquared, abs=1e-12)
    assert ours.residual_std == pytest.approx(np.sqrt(fit.scale), rel=1e-12)


def test_monthly_returns_compound_days_and_drop_partial_months() -> None:
    dates, closes = _closes(9, 120, 1)
    daily = np.r_[np.nan, closes[1:, 0] / closes[:-1, 0] - 1]
    daily[45] = np.nan
    months, monthly = regression.monthly_returns(dates, daily)
    frame = pd.Series(daily, index=pd.DatetimeIndex(dates))
    expected = frame.groupby(frame.index.to_period("M")).apply(
        lambda x: np.nan if x.isna().any() else np.prod(1 + x) - 1
    )
    np.testing.assert_allclose(monthly, expected.to_numpy(), rtol=1e-12)
    assert np.isnan(monthly[0]) and len(months) == len(expected)
