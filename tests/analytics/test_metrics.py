"""Performance metrics: hand-worked cases and ffn (bt's statistics library) as an independent
implementation of the same conventions."""

import math

import ffn
import numpy as np
import pandas as pd
import pytest

from portfolios.analytics import metrics


def business_day_series(growth: float) -> tuple[np.ndarray, np.ndarray]:
    """A value growing exactly `growth` a calendar year, observed on every weekday 2010-2019."""
    index = pd.bdate_range("2010-01-01", "2019-12-31")
    dates = index.to_numpy(dtype="datetime64[D]")
    elapsed = (dates - dates[0]).astype(int) / 365.25
    return 100.0 * (1.0 + growth) ** elapsed, dates


def random_frame(n_cols: int = 4, n_days: int = 900, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2015-03-02", periods=n_days)
    returns = rng.normal(0.0003, 0.011, size=(n_days, n_cols))
    returns[0] = 0.0
    return pd.DataFrame(100 * np.cumprod(1 + returns, axis=0), index=index)


def test_cagr_conventions_differ_on_a_business_day_series() -> None:
    # 2,608 weekdays over 3,651 calendar days: 2,607 returns are 9.98 "252-day years" but only
    # 9.996 calendar years, so 5.17% a calendar year reads as
    # 1.0517 ** (3651 / 365.25 * 252 / 2607) - 1 = 4.99% under the 252-day convention.
    values, dates = business_day_series(0.0517)
    assert metrics.cagr(values, dates) == pytest.approx(0.0517, abs=1e-12)
    trading = metrics.cagr(values, convention="trading")
    assert trading == pytest.approx(1.0517 ** (3651 / 365.25 * 252 / 2607) - 1, rel=1e-12)
    assert round(trading * 100, 2) == 4.99


def test_cagr_matches_ffn_on_every_column() -> None:
    frame = random_frame()
    dates = frame.index.to_numpy(dtype="datetime64[D]")
    ours = metrics.cagr(frame.to_numpy(), dates)
    np.testing.assert_allclose(ours, ffn.calc_cagr(frame).to_numpy(), rtol=1e-12)


def test_volatility_sharpe_and_sortino_match_ffn() -> None:
    frame = random_frame()
    returns = frame.pct_change().iloc[1:]
    values = frame.to_numpy()
    np.testing.assert_allclose(
        metrics.volatility(values), returns.std(ddof=1).to_numpy() * math.sqrt(252), rtol=1e-12
    )
    for rf in (0.0, 0.03):
        np.testing.assert_allclose(
            metrics.sharpe(values, risk_free=rf),
            ffn.calc_sharpe(returns, rf=rf, nperiods=252).to_numpy(),
            rtol=1e-10,
        )
        np.testing.assert_allclose(
            metrics.sortino(values, risk_free=rf),
            ffn.calc_sortino_ratio(returns, rf=rf, nperiods=252).to_numpy(),
            rtol=1e-10,
        )


def test_sortino_by_hand() -> None:
    # Returns +10%, -5%, +2%, -1% (target 0): mean 1.5%; downside deviation
    # sqrt((0.05^2 + 0.01^2) / 4) = sqrt(0.0026 / 4) = 0.025495; ratio per period 0.588348.
    values = 100 * np.cumprod([1.0, 1.10, 0.95, 1.02, 0.99])
    assert metrics.sortino(values, periods_per_year=1) == pytest.approx(
        0.015 / math.sqrt(0.0026 / 4), rel=1e-9
    )
    assert metrics.downside_deviation(values, periods_per_year=4) == pytest.approx(
        math.sqrt(0.0026 / 4) * 2, rel=1e-9
    )
    # never below target: infinite Sortino
    assert metrics.sortino(np.array([1.0, 1.1, 1.2])) == math.inf


def test_max_drawdown_with_dates_by_hand() -> None:
    dates = np.arange("2020-01-01", "2020-01-09", dtype="datetime64[D]")
    # peak 120 on day 2, trough 90 on day 4 (-25%), back to 120 on day 7; an earlier -10% dip
    a = np.array([100, 90, 120, 100, 90, 110, 121, 125])
    # never recovers; peak on the first day
    b = np.array([100, 80, 70, 60, 65, 70, 75, 80])
    dd = metrics.max_drawdown(np.column_stack([a, b]), dates)
    np.testing.assert_allclose(dd.depth, [-0.25, -0.40])
    assert dd.peak.tolist() == [np.datetime64("2020-01-03"), np.datetime64("2020-01-01")]
    assert dd.trough.tolist() == [np.datetime64("2020-01-05"), np.datetime64("2020-01-04")]
    assert dd.recovery[0] == np.datetime64("2020-01-07")
    assert np.isnat(dd.recovery[1])
    rising = metrics.max_drawdown(np.arange(1.0, 9.0), dates)
    assert rising.depth[0] == 0 and np.isnat(rising.peak[0]) and np.isnat(rising.trough[0])


def test_drawdown_and_calmar_match_ffn() -> None:
    frame = random_frame(seed=11)
    dates = frame.index.to_numpy(dtype="datetime64[D]")
    dd = metrics.max_drawdown(frame.to_numpy(), dates)
    np.testing.assert_allclose(dd.depth, ffn.calc_max_drawdown(frame).to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        metrics.calmar(frame.to_numpy(), dates), ffn.calc_calmar_ratio(frame).to_numpy(), rtol=1e-12
    )
    for j, column in enumerate(frame.columns):
        details = ffn.drawdown_details(ffn.to_drawdown_series(frame[column]))
        worst = details.loc[details["drawdown"].astype(float).idxmin()]
        # ffn's episode starts the first day under water: the day after our peak
        start = frame.index.get_loc(worst["Start"])
        assert frame.index[start - 1].to_datetime64().astype("datetime64[D]") == dd.peak[j]


def test_tracking_difference_is_the_difference_of_cagrs() -> None:
    values, dates = business_day_series(0.06)
    bench, _ = business_day_series(0.05)
    assert metrics.tracking_difference(values, bench, dates) == pytest.approx(0.01, abs=1e-12)
    # one benchmark for several columns
    both = np.column_stack([values, bench])
    np.testing.assert_allclose(
        metrics.tracking_difference(both, bench, dates), [0.01, 0.0], atol=1e-12
    )
    assert metrics.tracking_error(bench * 2, bench) == pytest.approx(0.0, abs=1e-15)


def test_summary_gives_every_metric_per_column() -> None:
    frame = random_frame(n_cols=3)
    dates = frame.index.to_numpy(dtype="datetime64[D]")
    values = frame.to_numpy()
    summary = metrics.summarise(values, dates, benchmark=values[:, 0], risk_free=0.02)
    np.testing.assert_allclose(summary.cagr, metrics.cagr(values, dates))
    np.testing.assert_allclose(summary.sharpe, metrics.sharpe(values, risk_free=0.02))
    np.testing.assert_allclose(summary.calmar, metrics.calmar(values, dates))
    np.testing.assert_allclose(summary.total_return, values[-1] / values[0] - 1)
    assert summary.tracking_difference[0] == 0.0
    assert summary.convention == "calendar"
    trading = metrics.summarise(values, dates, convention="trading")
    np.testing.assert_allclose(trading.cagr, metrics.cagr(values, convention="trading"))
    assert np.isnan(trading.tracking_difference).all()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (np.array([100.0]), "at least two"),
        (np.array([100.0, np.nan, 101.0]), "finite"),
        (np.array([0.0, 1.0, 2.0]), "start above 0"),
        (np.array([1.0, -1.0, 2.0]), "negative"),
    ],
)
def test_bad_series_are_refused(values: np.ndarray, message: str) -> None:
    dates = np.arange("2020-01-01", len(values), dtype="datetime64[D]")
    if len(values) < 2:
        dates = np.array(["2020-01-01"], dtype="datetime64[D]")
    with pytest.raises(ValueError, match=message):
        metrics.cagr(values, dates)


def test_calendar_cagr_needs_dates() -> None:
    with pytest.raises(ValueError, match="needs the dates"):
        metrics.cagr(np.array([1.0, 2.0]))
