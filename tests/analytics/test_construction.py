"""Risk models, expected returns, risk parity, HRP, Black-Litterman and share allocation
against independent implementations (scikit-learn, PyPortfolioOpt, riskfolio-lib) and
published numbers."""

import warnings

import numpy as np
import pandas as pd
import pypfopt
import pytest

from portfolios.analytics import (
    allocation,
    black_litterman,
    expected_returns,
    hrp,
    returns,
    risk_models,
    risk_parity,
)
from portfolios.analytics.black_litterman import absolute_view, relative_view
from portfolios.analytics.errors import InputError
from tests.analytics.portfolio_data import factor_returns, mean_cov


def test_ledoit_wolf_equals_scikit_learn() -> None:
    from sklearn.covariance import ledoit_wolf

    for n, t in ((10, 300), (80, 60), (200, 1000)):
        x = factor_returns(n, n_days=t, seed=n).to_numpy()
        ref_cov, ref_shrinkage = ledoit_wolf(x)
        ours = risk_models.ledoit_wolf(x)
        assert ours.shrinkage == pytest.approx(ref_shrinkage, abs=1e-12)
        assert np.max(np.abs(ours.covariance.to_numpy() - ref_cov)) <= 1e-12 * np.abs(ref_cov).max()


def test_single_factor_shrinkage_equals_pypfopt() -> None:
    x = factor_returns(30, n_days=400, seed=4)
    ours = risk_models.ledoit_wolf(x, target="single_factor", periods_per_year=252)
    ref = pypfopt.risk_models.CovarianceShrinkage(x, returns_data=True).ledoit_wolf("single_factor")
    assert np.max(np.abs(ours.covariance.to_numpy() - ref.to_numpy())) < 1e-12


def _constant_correlation_by_loops(x: np.ndarray) -> np.ndarray:
    """Ledoit and Wolf (2004), "Honey, I shrunk", eqs. for pi, rho, gamma, written out."""
    t, n = x.shape
    y = x - x.mean(axis=0)
    s = np.array([[np.sum(y[:, i] * y[:, j]) / t for j in range(n)] for i in range(n)])
    sd = np.sqrt(np.diag(s))
    r_bar = sum(s[i, j] / (sd[i] * sd[j]) for i in range(n) for j in range(n) if i != j) / (
        n * (n - 1)
    )
    f = np.array(
        [[s[i, i] if i == j else r_bar * sd[i] * sd[j] for j in range(n)] for i in range(n)]
    )
    pi = np.array(
        [[np.mean((y[:, i] * y[:, j] - s[i, j]) ** 2) for j in range(n)] for i in range(n)]
    )
    theta_ii = lambda i, j: np.mean((y[:, i] ** 2 - s[i, i]) * (y[:, i] * y[:, j] - s[i, j]))  # noqa: E731
    rho = np.trace(pi) + sum(
        r_bar / 2 * (sd[j] / sd[i] * theta_ii(i, j) + sd[i] / sd[j] * theta_ii(j, i))
        for i in range(n)
        for j in range(n)
        if i != j
    )
    gamma = np.sum((f - s) ** 2)
    delta = max(0.0, min(1.0, (pi.sum() - rho) / gamma / t))
    return delta * f + (1 - delta) * s


def test_constant_correlation_shrinkage_follows_the_paper() -> None:
    x = factor_returns(8, n_days=150, seed=9)
    ours = risk_models.ledoit_wolf(x, target="constant_correlation").covariance.to_numpy()
    assert np.max(np.abs(ours - _constant_correlation_by_loops(x.to_numpy()))) < 1e-15
    # PyPortfolioOpt uses the ddof=1 sample covariance in one term: agreement to O(1/T).
    ref = pypfopt.risk_models.CovarianceShrinkage(x, returns_data=True, frequency=1).ledoit_wolf(
        "constant_correlation"
    )
    assert np.max(np.abs(ours - ref.to_numpy())) < 3 / 150 * np.abs(ours).max()


def test_shrinkage_needs_complete_data() -> None:
    x = factor_returns(5, n_days=50, seed=1)
    x.iloc[0, 0] = np.nan
    with pytest.raises(InputError) as err:
        risk_models.ledoit_wolf(x)
    assert err.value.code == "missing_data"


def test_sample_and_ewma_covariance_match_pypfopt_on_ragged_data() -> None:
    x = factor_returns(6, n_days=300, seed=5)
    x.iloc[:120, 2] = np.nan  # listed later
    ours = risk_models.sample_covariance(x, periods_per_year=252)
    assert np.max(np.abs(ours.to_numpy() - x.cov().to_numpy() * 252)) < 1e-15
    ewma = risk_models.ewma_covariance(x, span=60, periods_per_year=252)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pypfopt.risk_models.exp_cov(x, returns_data=True, span=60, fix_method="spectral")
    assert np.max(np.abs(ewma.to_numpy() - ref.to_numpy())) < 1e-14


def test_psd_check_and_repair() -> None:
    bad = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    assert not risk_models.is_psd(bad)
    fixed = risk_models.repair_psd(bad, min_eigenvalue=1e-3)
    assert risk_models.is_psd(fixed)
    assert np.linalg.eigvalsh(fixed).min() == pytest.approx(1e-3)
    assert risk_models.is_psd(np.eye(3))


def test_expected_returns_match_pypfopt() -> None:
    rng = np.random.default_rng(3)
    prices = pd.DataFrame(
        np.exp(np.cumsum(rng.normal(0.0004, 0.01, (400, 4)), axis=0)),
        columns=list("ABCD"),
        index=pd.bdate_range("2020-01-01", periods=400),
    )
    prices.iloc[:50, 1] = np.nan
    pe = pypfopt.expected_returns
    for ours, ref in (
        (expected_returns.mean_historical_return(prices), pe.mean_historical_return(prices)),
        (
            expected_returns.mean_historical_return(prices, compounding=False),
            pe.mean_historical_return(prices, compounding=False),
        ),
        (
            expected_returns.ema_historical_return(prices, span=100),
            pe.ema_historical_return(prices, span=100),
        ),
        (
            expected_returns.capm_return(prices, risk_free_rate=0.01),
            pe.capm_return(prices, risk_free_rate=0.01),
        ),
    ):
        assert np.max(np.abs(ours - ref.reindex(ours.index))) < 1e-12


def test_gaps_are_never_zero_filled() -> None:
    prices = pd.DataFrame({"A": [np.nan, 1.0, 1.1, np.nan, 1.21], "B": [1.0, 2.0, 3.0, 4.0, 5.0]})
    plain = returns.simple_returns(prices)
    assert (
        np.isnan(plain["A"].iloc[0])
        and np.isnan(plain["A"].iloc[2])
        and np.isnan(plain["A"].iloc[3])
    )
    spanned = returns.simple_returns(prices, across_gaps=True)
    assert np.isnan(spanned["A"].iloc[0]) and np.isnan(spanned["A"].iloc[2])
    assert spanned["A"].iloc[3] == pytest.approx(0.1)
    logs = returns.log_returns(prices, across_gaps=True)
    assert logs["B"].iloc[0] == pytest.approx(np.log(2.0))


def test_risk_parity_matches_riskfolio_with_budgets() -> None:
    import riskfolio as rp

    x = factor_returns(15, n_days=500, seed=6)
    budgets = np.linspace(1, 3, 15)
    budgets /= budgets.sum()
    port = rp.Portfolio(returns=x)
    port.assets_stats(method_mu="hist", method_cov="hist")
    port.solvers = ["CLARABEL"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = port.rp_optimization(
            model="Classic", rm="MV", rf=0, b=budgets.reshape(-1, 1), hist=True
        )
    ours = risk_parity.risk_parity(x.cov(), budgets=budgets)
    assert np.max(np.abs(ours.weights - ref["weights"].to_numpy())) < 1e-4
    assert ours.kkt_residual < 1e-12
    assert np.allclose(ours.risk_contributions, budgets, atol=1e-12)


def test_inverse_volatility() -> None:
    cov = np.diag([0.04, 0.01, 0.0025])
    result = risk_parity.inverse_volatility(cov)
    assert np.allclose(result.weights, np.array([5, 10, 20]) / 35)


def test_hrp_matches_pypfopt() -> None:
    x = factor_returns(25, n_days=400, seed=8)
    x.iloc[:100, 3] = np.nan
    ours = hrp.hrp_from_returns(x)
    ref = pypfopt.HRPOpt(x)
    ref.optimize()
    assert np.max(np.abs(ours.weights - ref.weights)) < 1e-12
    ward = hrp.hrp_from_returns(x, linkage="ward")
    ref.optimize(linkage_method="ward")
    assert np.max(np.abs(ward.weights - ref.weights)) < 1e-12


# He and Litterman (1999), "The Intuition Behind Black-Litterman Model Portfolios", Goldman
# Sachs Investment Management Research: Table 1 (volatilities, weights, equilibrium returns),
# Table 2 (correlations), footnotes (delta = 2.5, tau = 0.05); Table 4 (view 1: Germany
# outperforms the rest of Europe, France and the UK market-cap weighted, by 5%) and Table 5
# (views 1 and 2: Canada outperforms the US by 3%): posterior returns mu and weights w*.
# Printed to one decimal of a percent: returns must round to the printed figure (0.05 points);
# the weights are within one unit of the last printed digit (0.1 point), because the paper's
# inputs are themselves printed rounded (weights to 0.1%, the view's legs to 29.5%/70.5%) and
# France's w* sits on a rounding edge (-3.95 from the printed inputs, printed -4.0).
HL_COUNTRIES = ("AUS", "CAN", "FRA", "GER", "JPN", "UKG", "USA")
HL_CORR = np.array(
    [
        [1.000, 0.488, 0.478, 0.515, 0.439, 0.512, 0.491],
        [0.488, 1.000, 0.664, 0.655, 0.310, 0.608, 0.779],
        [0.478, 0.664, 1.000, 0.861, 0.355, 0.783, 0.668],
        [0.515, 0.655, 0.861, 1.000, 0.354, 0.777, 0.653],
        [0.439, 0.310, 0.355, 0.354, 1.000, 0.405, 0.306],
        [0.512, 0.608, 0.783, 0.777, 0.405, 1.000, 0.652],
        [0.491, 0.779, 0.668, 0.653, 0.306, 0.652, 1.000],
    ]
)
HL_VOL = np.array([16.0, 20.3, 24.8, 27.1, 21.0, 20.0, 18.7]) / 100
HL_WEIGHTS = np.array([1.6, 2.2, 5.2, 5.5, 11.6, 12.4, 61.5]) / 100
HL_EQUILIBRIUM = [3.9, 6.9, 8.4, 9.0, 4.3, 6.8, 7.6]
HL_VIEW1 = relative_view("GER", {"FRA": 0.295, "UKG": 0.705}, 0.05)
HL_VIEW2 = relative_view("CAN", "USA", 0.03)
HL_TABLES = {
    "table 4": (
        (HL_VIEW1,),
        [4.3, 7.6, 9.3, 11.0, 4.5, 7.0, 8.1],
        [1.5, 2.1, -4.0, 35.4, 11.0, -9.5, 58.6],
    ),
    "table 5": (
        (HL_VIEW1, HL_VIEW2),
        [4.4, 8.7, 9.5, 11.2, 4.6, 7.0, 7.5],
        [1.5, 41.9, -3.4, 33.6, 11.0, -8.2, 18.8],
    ),
}


@pytest.mark.parametrize("table", sorted(HL_TABLES))
def test_black_litterman_reproduces_he_litterman_1999(table: str) -> None:
    cov = pd.DataFrame(HL_CORR * np.outer(HL_VOL, HL_VOL), index=HL_COUNTRIES, columns=HL_COUNTRIES)
    pi = expected_returns.equilibrium_returns(cov, pd.Series(HL_WEIGHTS, index=HL_COUNTRIES), 2.5)
    assert np.max(np.abs(100 * pi.to_numpy() - HL_EQUILIBRIUM)) <= 0.05
    views, mu_printed, w_printed = HL_TABLES[table]
    result = black_litterman.black_litterman(pi, cov, views, tau=0.05, risk_aversion=2.5)
    assert np.max(np.abs(100 * result.posterior_returns - mu_printed)) <= 0.05
    assert result.unconstrained_weights is not None
    assert np.max(np.abs(100 * result.unconstrained_weights - w_printed)) <= 0.1


def test_black_litterman_reproduces_idzorek_table_6() -> None:
    # Idzorek (2005), "A Step-by-Step Guide to the Black-Litterman Model": Table 5
    # (covariance), Table 2 (market weights), delta = 3.07, tau = 0.025, the three views of
    # section 2.2 with Omega = diag(P tau Sigma P') (formula 8); Table 6 "New Combined
    # Return Vector", printed to two decimals of a percent; the printed inputs are rounded
    # (delta "approximately 3.07"), so agreement is to two units of the last digit.
    cov = np.array(
        [
            [0.001005, 0.001328, -0.000579, -0.000675, 0.000121, 0.000128, -0.000445, -0.000437],
            [0.001328, 0.007277, -0.001307, -0.000610, -0.002237, -0.000989, 0.001442, -0.001535],
            [-0.000579, -0.001307, 0.059852, 0.027588, 0.063497, 0.023036, 0.032967, 0.048039],
            [-0.000675, -0.000610, 0.027588, 0.029609, 0.026572, 0.021465, 0.020697, 0.029854],
            [0.000121, -0.002237, 0.063497, 0.026572, 0.102488, 0.042744, 0.039943, 0.065994],
            [0.000128, -0.000989, 0.023036, 0.021465, 0.042744, 0.032056, 0.019881, 0.032235],
            [-0.000445, 0.001442, 0.032967, 0.020697, 0.039943, 0.019881, 0.028355, 0.035064],
            [-0.000437, -0.001535, 0.048039, 0.029854, 0.065994, 0.032235, 0.035064, 0.079958],
        ]
    )
    names = ("USB", "INB", "LG", "LV", "SG", "SV", "IDE", "IEE")
    weights = np.array([0.1934, 0.2613, 0.1209, 0.1209, 0.0134, 0.0134, 0.2418, 0.0349])
    pi = expected_returns.equilibrium_returns(cov, weights, 3.07)
    assert np.max(np.abs(100 * pi - [0.08, 0.67, 6.41, 4.08, 7.43, 3.70, 4.80, 6.60])) <= 0.02
    views = (
        absolute_view("IDE", 0.0525),
        relative_view("INB", "USB", 0.0025),
        relative_view({"LG": 0.9, "SG": 0.1}, {"LV": 0.9, "SV": 0.1}, 0.02),
    )
    result = black_litterman.black_litterman(pi, cov, views, tau=0.025, assets=names)
    table6 = [0.07, 0.50, 6.50, 4.32, 7.59, 3.94, 4.93, 6.84]
    assert np.max(np.abs(100 * result.posterior_returns - table6)) <= 0.02


def test_black_litterman_idzorek_confidences_match_pypfopt() -> None:
    _mu, cov = mean_cov(factor_returns(8, n_days=500, seed=12))
    names = list(cov.columns)
    prior = expected_returns.equilibrium_returns(cov, pd.Series(1.0, index=names), 2.5)
    views = [
        absolute_view(names[0], 0.15, 0.3),
        absolute_view(names[3], -0.05, 0.8),
        absolute_view(names[5], 0.02, 1.0),
    ]
    ours = black_litterman.black_litterman(prior, cov, views, omega="idzorek")
    ref = pypfopt.BlackLittermanModel(
        cov,
        pi=prior,
        absolute_views={names[0]: 0.15, names[3]: -0.05, names[5]: 0.02},
        omega="idzorek",
        view_confidences=[0.3, 0.8, 1.0],
    )
    assert np.max(np.abs(ours.posterior_returns - ref.bl_returns().to_numpy())) < 1e-10
    assert np.max(np.abs(ours.posterior_cov - ref.bl_cov().to_numpy())) < 1e-10
    assert ours.posterior_returns[5] == pytest.approx(0.02, abs=1e-12)  # a certain view holds


def test_a_view_on_an_unknown_asset_is_refused() -> None:
    cov = pd.DataFrame(np.eye(2) * 0.04, index=["A", "B"], columns=["A", "B"])
    with pytest.raises(InputError) as err:
        black_litterman.black_litterman(
            pd.Series([0.05, 0.06], index=["A", "B"]), cov, [absolute_view("C", 0.1)]
        )
    assert (err.value.code, err.value.constraint) == ("unknown_asset", "view:0")
    assert err.value.details["asset"] == "C"


def test_whole_shares_track_the_target_within_cash() -> None:
    weights = pd.Series({"A": 0.5, "B": 0.3, "C": 0.2})
    prices = pd.Series({"A": 101.0, "B": 47.5, "C": 333.0})
    result = allocation.allocate_shares(weights, prices, 10_000.0)
    assert result.cost <= 10_000.0 and result.leftover_cash == pytest.approx(10_000.0 - result.cost)
    floor = np.floor(weights.to_numpy() * 10_000.0 / prices.to_numpy())
    floor_te = np.linalg.norm(floor * prices.to_numpy() / 10_000.0 - weights.to_numpy())
    assert result.tracking_error <= floor_te
    # exhaustive search over nearby quantities finds nothing better that is affordable
    best = min(
        np.linalg.norm(np.array([a, b, c]) * prices.to_numpy() / 10_000.0 - weights.to_numpy())
        for a in range(45, 56)
        for b in range(58, 70)
        for c in range(3, 9)
        if a * 101.0 + b * 47.5 + c * 333.0 <= 10_000.0
    )
    assert result.tracking_error == pytest.approx(best, abs=1e-15)
    fractional = allocation.allocate_shares(weights, prices, 10_000.0, fractional=True)
    assert fractional.leftover_cash < 0.05 and fractional.tracking_error < 1e-5
