"""Mean-variance optimisers against independent implementations (PyPortfolioOpt through
cvxpy/CLARABEL, skfolio) on generated data, and the errors they raise."""

import warnings

import numpy as np
import pandas as pd
import pypfopt
import pytest

from portfolios.analytics import optimize
from portfolios.analytics.errors import InfeasibleError, InputError
from portfolios.analytics.optimize import Constraints, GroupConstraint
from tests.analytics.portfolio_data import factor_returns, mean_cov


def _peer(mu: pd.Series, cov: pd.DataFrame, **kwargs: object):  # type: ignore[no-untyped-def]
    return pypfopt.EfficientFrontier(mu, cov, solver="CLARABEL", **kwargs)


@pytest.fixture(scope="module", params=[(12, 1), (40, 2), (120, 3)], ids=["n12", "n40", "n120"])
def market(request: pytest.FixtureRequest) -> tuple[pd.Series, pd.DataFrame]:
    n, seed = request.param
    return mean_cov(factor_returns(n, seed=seed))


def _close(ours: np.ndarray, cov: pd.DataFrame, peer_w: np.ndarray, tol: float = 1e-4) -> None:
    """Weights within tol, or (a flat optimum) the variance within 1e-6 relative."""
    if np.max(np.abs(ours - peer_w)) <= tol:
        return
    s = cov.to_numpy()
    assert ours @ s @ ours <= peer_w @ s @ peer_w * (1 + 1e-6)


def test_min_volatility_matches_pypfopt(market: tuple[pd.Series, pd.DataFrame]) -> None:
    mu, cov = market
    ours = optimize.min_volatility(cov, expected_returns=mu)
    ef = _peer(mu, cov)
    ef.min_volatility()
    _close(ours.weights, cov, ef.weights)
    assert ours.kkt_residual < 1e-12
    assert ours.weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert ours.risk_contributions.sum() == pytest.approx(1.0)


def test_max_sharpe_matches_pypfopt(market: tuple[pd.Series, pd.DataFrame]) -> None:
    mu, cov = market
    ours = optimize.max_sharpe(mu, cov, risk_free_rate=0.02)
    ef = _peer(mu, cov)
    ef.max_sharpe(risk_free_rate=0.02)
    peer_sharpe = ef.portfolio_performance(risk_free_rate=0.02)[2]
    assert np.max(np.abs(ours.weights - ef.weights)) < 1e-4 or ours.sharpe >= peer_sharpe - 1e-6
    assert ours.sharpe >= peer_sharpe - 1e-6
    assert ours.kkt_residual < 1e-12


def test_efficient_return_and_risk_match_pypfopt(market: tuple[pd.Series, pd.DataFrame]) -> None:
    mu, cov = market
    low = optimize.min_volatility(cov, expected_returns=mu)
    top = float(mu.max())
    target = low.expected_return + 0.6 * (top - low.expected_return)
    ours = optimize.efficient_return(mu, cov, target)
    ef = _peer(mu, cov)
    ef.efficient_return(target)
    _close(ours.weights, cov, ef.weights)
    assert ours.expected_return == pytest.approx(target, abs=1e-12)

    vol = low.volatility * 1.3
    ours = optimize.efficient_risk(mu, cov, vol)
    ef = _peer(mu, cov)
    ef.efficient_risk(vol)
    assert ours.volatility == pytest.approx(vol, rel=1e-10)
    assert ours.expected_return >= float(mu @ ef.weights) - 1e-6
    assert np.max(np.abs(ours.weights - ef.weights)) < 1e-3  # the peer meets the cone to ~1e-6


def test_quadratic_utility_matches_pypfopt(market: tuple[pd.Series, pd.DataFrame]) -> None:
    mu, cov = market
    ours = optimize.max_quadratic_utility(mu, cov, risk_aversion=3.0)
    ef = _peer(mu, cov)
    ef.max_quadratic_utility(risk_aversion=3.0)
    utility = lambda w: float(mu @ w - 1.5 * w @ cov.to_numpy() @ w)  # noqa: E731
    assert (
        np.max(np.abs(ours.weights - ef.weights)) < 1e-4
        or utility(ours.weights) >= utility(ef.weights) - 1e-6
    )
    assert ours.kkt_residual < 1e-12


def test_group_and_asset_bounds_match_pypfopt() -> None:
    mu, cov = mean_cov(factor_returns(30, seed=7))
    names = list(cov.columns)
    classes = {
        a: ("bonds" if i < 8 else "stocks" if i < 24 else "gold") for i, a in enumerate(names)
    }
    groups = optimize.groups_from_mapping(
        classes, lower={"bonds": 0.2, "gold": 0.05}, upper={"bonds": 0.4, "gold": 0.1}
    )
    cons = Constraints(lower=0.0, upper=0.15, groups=groups)
    for name, ours, peer in (
        (
            "min_volatility",
            optimize.min_volatility(cov, expected_returns=mu, constraints=cons),
            lambda ef: ef.min_volatility(),
        ),
        (
            "max_sharpe",
            optimize.max_sharpe(mu, cov, constraints=cons),
            lambda ef: ef.max_sharpe(risk_free_rate=0.0),
        ),
    ):
        ef = _peer(mu, cov, weight_bounds=(0.0, 0.15))
        ef.add_sector_constraints(
            classes, {"bonds": 0.2, "gold": 0.05}, {"bonds": 0.4, "gold": 0.1}
        )
        peer(ef)
        assert np.max(np.abs(ours.weights - ef.weights)) < 1e-4, name
        bonds = sum(w for a, w in zip(names, ours.weights, strict=True) if classes[a] == "bonds")
        assert 0.2 - 1e-12 <= bonds <= 0.4 + 1e-12
        assert ours.weights.max() <= 0.15 + 1e-12
        assert ours.kkt_residual < 1e-10


def test_min_volatility_matches_skfolio() -> None:
    from skfolio import optimization as skfolio

    returns = factor_returns(25, seed=11)
    model = skfolio.MeanRisk(objective_function=skfolio.ObjectiveFunction.MINIMIZE_RISK)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(returns.to_numpy())
    ours = optimize.min_volatility(np.cov(returns.to_numpy(), rowvar=False))
    assert np.max(np.abs(ours.weights - model.weights_)) < 1e-4


def test_frontier_is_monotone_and_ends_at_maximum_return(
    market: tuple[pd.Series, pd.DataFrame],
) -> None:
    mu, cov = market
    frontier = optimize.efficient_frontier(mu, cov, n_points=8)
    assert np.all(np.diff(frontier.returns) > 0)
    assert np.all(np.diff(frontier.volatilities) >= -1e-12)
    assert frontier.returns[-1] == pytest.approx(float(mu.max()), abs=1e-12)
    assert frontier.kkt_residuals.max() < 1e-10
    ef = _peer(mu, cov)
    ef.efficient_return(float(frontier.returns[3]))
    _close(frontier.weights[3], cov, ef.weights)


def test_short_positions_allowed_by_negative_lower_bounds() -> None:
    mu, cov = mean_cov(factor_returns(15, seed=5))
    ours = optimize.min_volatility(cov, constraints=Constraints(lower=-1.0, upper=1.0))
    ef = pypfopt.EfficientFrontier(mu, cov, weight_bounds=(-1, 1), solver="CLARABEL")
    ef.min_volatility()
    assert np.max(np.abs(ours.weights - ef.weights)) < 1e-4
    assert ours.weights.min() < 0
    sharpe = optimize.max_sharpe(mu, cov, constraints=Constraints(lower=-1.0, upper=1.0))
    ef = pypfopt.EfficientFrontier(mu, cov, weight_bounds=(-1, 1), solver="CLARABEL")
    ef.max_sharpe(risk_free_rate=0.0)
    assert np.max(np.abs(sharpe.weights - ef.weights)) < 1e-4


# --- errors -----------------------------------------------------------------------------


def _small() -> tuple[pd.Series, pd.DataFrame]:
    return mean_cov(factor_returns(6, seed=3))


def test_bounds_that_cannot_sum_to_one_name_the_budget() -> None:
    mu, cov = _small()
    with pytest.raises(InfeasibleError) as err:
        optimize.min_volatility(cov, constraints=Constraints(upper=0.1))
    assert err.value.code == "budget_unreachable"
    assert err.value.constraint == "budget"
    assert err.value.details["sum_upper"] == pytest.approx(0.6)
    with pytest.raises(InfeasibleError, match=r"lower bounds sum to 1\.2"):
        optimize.max_sharpe(mu, cov, constraints=Constraints(lower=0.2))


def test_conflicting_groups_are_named() -> None:
    _mu, cov = _small()
    names = list(cov.columns)
    impossible = Constraints(groups=(GroupConstraint("bonds", tuple(names[:2]), 0.3, 0.2),))
    with pytest.raises(InfeasibleError) as err:
        optimize.min_volatility(cov, constraints=impossible)
    assert (err.value.code, err.value.constraint) == ("group_conflict", "group:bonds")
    clash = Constraints(
        groups=(
            GroupConstraint("bonds", tuple(names[:3]), 0.7, 1.0),
            GroupConstraint("stocks", tuple(names[3:]), 0.5, 1.0),
        )
    )
    with pytest.raises(InfeasibleError) as err:
        optimize.min_volatility(cov, constraints=clash)
    assert err.value.code == "group_conflict"
    assert set(err.value.details["groups"]) <= {"bonds", "stocks"} and err.value.details["groups"]


def test_frontier_point_beyond_the_maximum_return() -> None:
    mu, cov = _small()
    with pytest.raises(InfeasibleError) as err:
        optimize.efficient_return(mu, cov, float(mu.max()) + 0.01)
    assert err.value.code == "target_return_unreachable"
    assert err.value.details["max_return"] == pytest.approx(float(mu.max()))


def test_volatility_below_the_minimum() -> None:
    mu, cov = _small()
    low = optimize.min_volatility(cov).volatility
    with pytest.raises(InfeasibleError) as err:
        optimize.efficient_risk(mu, cov, low * 0.9)
    assert err.value.code == "target_volatility_unreachable"
    assert err.value.details["min_volatility"] == pytest.approx(low)


def test_max_sharpe_without_excess_return() -> None:
    mu, cov = _small()
    with pytest.raises(InfeasibleError) as err:
        optimize.max_sharpe(mu, cov, risk_free_rate=float(mu.max()) + 0.01)
    assert err.value.code == "no_excess_return"


def test_singular_covariance_is_reported_with_the_assets() -> None:
    # Fewer dates than assets: the sample covariance has rank 5 for 12 assets, and with
    # shorting allowed a zero-variance combination exists: the answer is not determined.
    returns = factor_returns(12, n_days=6, seed=2)
    cov = returns.cov() * 252
    shorting = Constraints(lower=-1.0, upper=1.0)
    with pytest.raises(InputError) as err:
        optimize.min_volatility(cov, constraints=shorting)
    assert err.value.code == "covariance_singular"
    assert err.value.constraint == "covariance"
    assert len(err.value.details["assets"]) > 5
    # Repaired (eigenvalues floored), the same problem solves.
    from portfolios.analytics import risk_models

    repaired = risk_models.repair_psd(cov, min_eigenvalue=1e-4)
    assert optimize.min_volatility(repaired, constraints=shorting).kkt_residual < 1e-12


def test_a_duplicated_asset_still_gives_an_optimal_portfolio() -> None:
    # Singular but harmless: the optimum puts the copy at its bound (one of many optima).
    returns = factor_returns(4, seed=2)
    returns["COPY"] = returns["A000"]
    cov = returns.cov() * 252
    ours = optimize.min_volatility(cov)
    plain = optimize.min_volatility(cov.iloc[:4, :4])
    assert ours.volatility == pytest.approx(plain.volatility, rel=1e-12)


def test_bad_inputs() -> None:
    mu, cov = _small()
    with pytest.raises(InputError, match="symmetric"):
        optimize.min_volatility(cov.to_numpy() + np.triu(np.ones((6, 6)), 1))
    with pytest.raises(InputError) as err:
        optimize.max_sharpe(mu.rename(index={"A000": "ZZZ"}), cov)
    assert err.value.code == "unknown_asset"
    with pytest.raises(InputError) as err:
        optimize.min_volatility(cov, constraints=Constraints(upper={"NOPE": 0.5}))
    assert err.value.constraint == "upper:NOPE"
