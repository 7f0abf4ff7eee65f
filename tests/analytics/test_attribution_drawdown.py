"""Brinson-Fachler attribution, GRAP linking, ledger sleeves and drawdown episodes."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from portfolios.analytics import attribution, benchmark, drawdown, history
from portfolios.analytics import performance as perf
from tests.analytics import ledger_reference as ref


def test_brinson_fachler_hand_example() -> None:
    # Two classes. Portfolio 70% equity at +10%, 30% bonds at +2%; benchmark 60/40 with
    # +8% and +3%: R = 7.6%, B = 6.0%. By hand:
    # allocation: equity (0.1)(0.08 - 0.06) = 0.002, bonds (-0.1)(0.03 - 0.06) = 0.003
    # selection: equity 0.6 (0.02) = 0.012, bonds 0.4 (-0.01) = -0.004
    # interaction: equity 0.1 (0.02) = 0.002, bonds (-0.1)(-0.01) = 0.001
    e = attribution.brinson_fachler([0.7, 0.3], [0.10, 0.02], [0.6, 0.4], [0.08, 0.03])
    np.testing.assert_allclose(e.allocation, [0.002, 0.003], atol=1e-15)
    np.testing.assert_allclose(e.selection, [0.012, -0.004], atol=1e-15)
    np.testing.assert_allclose(e.interaction, [0.002, 0.001], atol=1e-15)
    assert e.active == pytest.approx(0.076 - 0.06, abs=1e-15)


weights = hnp.arrays(float, 5, elements=st.floats(0.0, 1.0)).filter(lambda w: w.sum() > 0.1)
rets = hnp.arrays(float, 5, elements=st.floats(-0.5, 0.5))


@settings(max_examples=200, deadline=None)
@given(weights, rets, weights, rets)
def test_effects_sum_exactly_to_the_active_return_for_one_period(
    wp: np.ndarray, rp: np.ndarray, wb: np.ndarray, rb: np.ndarray
) -> None:
    wp, wb = wp / wp.sum(), wb / wb.sum()
    rp = np.where(wp > 0, rp, np.nan)  # a class not held has no return
    e = attribution.brinson_fachler(wp, rp, wb, rb)
    active = np.nansum(wp * rp) - (wb * rb).sum()
    assert e.active == pytest.approx(active, abs=1e-14)


@settings(max_examples=100, deadline=None)
@given(
    hnp.arrays(float, (12, 4), elements=st.floats(0.01, 1.0)),
    hnp.arrays(float, (12, 4), elements=st.floats(-0.2, 0.2)),
    hnp.arrays(float, (12, 4), elements=st.floats(0.01, 1.0)),
    hnp.arrays(float, (12, 4), elements=st.floats(-0.2, 0.2)),
)
def test_grap_linked_effects_sum_to_the_compounded_active_return(
    wp: np.ndarray, rp: np.ndarray, wb: np.ndarray, rb: np.ndarray
) -> None:
    wp, wb = wp / wp.sum(1, keepdims=True), wb / wb.sum(1, keepdims=True)
    e = attribution.brinson_fachler(wp, rp, wb, rb)
    total_p, total_b = (wp * rp).sum(1), (wb * rb).sum(1)
    linked = attribution.link_grap(e, total_p, total_b)
    compounded = np.prod(1 + total_p) - np.prod(1 + total_b)
    assert linked.active == pytest.approx(compounded, abs=1e-13)
    # one period: linking changes nothing
    single = attribution.link_grap(
        attribution.brinson_fachler(wp[:1], rp[:1], wb[:1], rb[:1]), total_p[:1], total_b[:1]
    )
    np.testing.assert_allclose(single.total, e.total[0], atol=1e-15)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ref.ledgers(max_accounts=2, n_securities=3))
def test_sleeves_add_up_to_the_account_return_every_day(g: ref.GeneratedLedger) -> None:
    classes = np.array([0, 1, 1])  # two asset classes, plus cash
    sleeves = attribution.sleeves(g.ledger, g.dates, g.closes, classes, 2)
    h = history.value_history(g.ledger, g.dates, g.closes)
    daily = perf.daily_returns(h)
    total = sleeves.contributions().sum(axis=2)
    started = h.started()
    np.testing.assert_allclose(total[started], daily[started], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(
        sleeves.weights().sum(axis=2)[started & (sleeves.start_capital.sum(2) > 1e-6)],
        1.0,
        rtol=1e-12,
    )


def test_attribution_of_an_account_against_its_target_from_the_ledger() -> None:
    # Two classes, indexes moving differently; the account overweights class 0 and holds cash.
    dates = np.arange("2024-01-01", "2024-03-01", dtype="datetime64[D]")
    dates = dates[np.is_busday(dates)]
    t = np.arange(len(dates))
    closes = np.column_stack([100 * 1.002**t, 50 * 0.999**t])
    ledger = history.Ledger.from_columns(
        account=[0, 0, 0],
        date=[dates[0]] * 3,
        kind=["deposit", "buy", "buy"],
        amount=[10_000.0, -7_000.0, -2_500.0],
        security=[-1, 0, 1],
        quantity=[0.0, 70.0, 50.0],
    )
    sleeves = attribution.sleeves(ledger, dates, closes, np.array([0, 1]), 2)
    target = np.array([0.6, 0.4])
    bench = benchmark.blended_benchmark(dates, closes, target, with_class_weights=True)
    wb = np.column_stack([bench.class_weights, np.zeros(len(dates))])  # no cash in the target
    rb = np.column_stack([bench.class_returns, np.zeros(len(dates))])
    days = slice(1, None)
    effects = attribution.brinson_fachler(
        sleeves.weights()[days, 0],
        sleeves.returns()[days, 0],
        wb[days],
        rb[days],
        portfolio_contribution=sleeves.contributions()[days, 0],
    )
    h = history.value_history(ledger, dates, closes)
    rp = perf.daily_returns(h)[days, 0]
    linked = attribution.link_grap(effects, rp, bench.returns[days])
    assert linked.active == pytest.approx(
        np.prod(1 + rp) - np.prod(1 + bench.returns[days]), abs=1e-13
    )
    # overweight in the class that did better than the benchmark: positive allocation there;
    # cash (5%) in a rising market: negative allocation
    assert linked.allocation[0] > 0 and linked.allocation[2] < 0
    assert abs(linked.selection).max() < 1e-12  # the account holds exactly the index securities


def _episodes_by_loop(r: np.ndarray, tolerance: float) -> list[tuple[int, int, int, float, int]]:
    wealth, peak, peak_day = 1.0, 1.0, -1
    out, current = [], None
    for t, x in enumerate(np.nan_to_num(r)):
        wealth *= 1 + x
        if wealth >= peak:
            if current is not None:
                out.append((*current[:4], t))
                current = None
            peak, peak_day = wealth, t
            continue
        dd = wealth / peak - 1
        if current is None and dd <= -tolerance:
            current = [peak_day, t, t, dd]
        elif current is not None and dd < current[3]:
            current[2], current[3] = t, dd
    if current is not None:
        out.append((*current[:4], -1))
    return out


@settings(max_examples=150, deadline=None)
@given(hnp.arrays(float, st.integers(1, 80), elements=st.floats(-0.1, 0.1)), st.floats(0.01, 0.3))
def test_drawdown_episodes_match_a_day_by_day_loop(r: np.ndarray, tolerance: float) -> None:
    got = drawdown.drawdown_episodes(r, tolerance)
    expected = _episodes_by_loop(r, tolerance)
    assert len(got.series) == len(expected)
    for i, (peak, breach, trough, depth, recovery) in enumerate(expected):
        assert (got.peak[i], got.breach[i], got.trough[i], got.recovery[i]) == (
            peak,
            breach,
            trough,
            recovery,
        )
        assert got.depth[i] == pytest.approx(depth, rel=1e-12)


def test_drawdown_episodes_are_per_series_and_alert_once_per_episode() -> None:
    # Falls 25%, recovers half-way (never to the peak), falls again: one episode, one breach.
    r = np.array([0.0, -0.25, 0.1, -0.1, 0.5, -0.3])
    got = drawdown.drawdown_episodes(np.column_stack([r, np.zeros_like(r)]), np.array([0.2, 0.2]))
    assert got.series.tolist() == [0, 0]
    assert got.peak.tolist() == [0, 4] and got.breach.tolist() == [1, 5]
    assert got.recovery.tolist() == [4, -1]
