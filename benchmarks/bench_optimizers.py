"""Portfolio construction speed against the peers, measured in the same run on the same data
(generated: a factor model with realistic betas and volatilities, 5 years of daily returns;
no network, no shared files).

- max Sharpe, min volatility, efficient risk at 50, 200 and 500 assets: ours vs
  PyPortfolioOpt (default solver path, and CLARABEL) and skfolio (MeanRisk, CLARABEL);
  each peer result is checked against ours (objective within 1e-6 or weights within 1e-4);
- risk parity vs riskfolio-lib (rp_optimization, CLARABEL);
- Ledoit-Wolf vs scikit-learn;
- a monthly re-optimised walk-forward (50 assets, 25 years) vs cvxportfolio;
- import time of the package (a fresh interpreter, numpy and pandas included).

Ours is the best of several calls, a peer's one call (they take up to seconds); a peer that
raises is reported with the time it took to fail.
"""

from __future__ import annotations

import subprocess
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from benchmarks import ROOT, Report, best_of


def _returns(n: int, days: int = 1260, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    market = rng.standard_normal(days) * 0.011
    sector = rng.standard_normal((days, 8)) * 0.006
    member = rng.integers(0, 8, n)
    values = (
        rng.normal(0.0004, 0.0003, n)
        + np.outer(market, rng.normal(1.0, 0.3, n))
        + sector[:, member] * rng.normal(1.0, 0.3, n)
        + rng.standard_normal((days, n)) * rng.uniform(0.15, 0.45, n) / np.sqrt(252)
    )
    return pd.DataFrame(values, columns=[f"S{i:03d}" for i in range(n)])


def _once(func: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    try:
        out: object = func()
    except Exception as exc:  # a peer's failure is a result to report
        out = exc
    return time.perf_counter() - start, out


def _quiet(func: Callable[[], object]) -> Callable[[], object]:
    def call() -> object:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return func()

    return call


def _mean_variance(report: Report) -> None:
    for n in (50, 200, 500):
        _mean_variance_at(report, n)


def _mean_variance_at(report: Report, n: int) -> None:
    from pypfopt import EfficientFrontier
    from skfolio.measures import RiskMeasure
    from skfolio.optimization import MeanRisk, ObjectiveFunction

    from portfolios.analytics import optimize

    rets = _returns(n, seed=n)
    mu, cov = rets.mean() * 252, rets.cov() * 252
    m, s = mu.to_numpy(), cov.to_numpy()
    target_vol = optimize.min_volatility(s).volatility * 1.25
    ours_calls = {
        "max Sharpe": lambda: optimize.max_sharpe(m, s),
        "min volatility": lambda: optimize.min_volatility(s),
        "efficient risk": lambda: optimize.efficient_risk(m, s, target_vol),
    }
    pypfopt_calls = {
        "max Sharpe": lambda ef: ef.max_sharpe(risk_free_rate=0.0),
        "min volatility": lambda ef: ef.min_volatility(),
        "efficient risk": lambda ef: ef.efficient_risk(target_vol),
    }
    sk_objective = {
        "max Sharpe": {"objective_function": ObjectiveFunction.MAXIMIZE_RATIO},
        "min volatility": {"objective_function": ObjectiveFunction.MINIMIZE_RISK},
        "efficient risk": {
            "objective_function": ObjectiveFunction.MAXIMIZE_RETURN,
            "max_standard_deviation": target_vol / np.sqrt(252),
        },
    }
    for problem, ours_call in ours_calls.items():
        ours_t = best_of(5, ours_call)
        ours = ours_call()
        for label, solver in (
            ("PyPortfolioOpt default", None),
            ("PyPortfolioOpt CLARABEL", "CLARABEL"),
        ):

            def peer(solver: str | None = solver, problem: str = problem) -> np.ndarray:
                ef = EfficientFrontier(m, s, solver=solver)
                pypfopt_calls[problem](ef)
                return ef.weights

            took, out = _once(_quiet(peer))
            report.add(
                f"{problem}, {n} assets: ours",
                ours_t * 1e3,
                "ms",
                baseline_name=label,
                baseline_value=took * 1e3,
                note=_agreement(ours, out, s, m, problem),
            )

        def sk(problem: str = problem) -> np.ndarray:
            model = MeanRisk(risk_measure=RiskMeasure.STANDARD_DEVIATION, **sk_objective[problem])
            model.fit(rets.to_numpy())
            return model.weights_

        took, out = _once(_quiet(sk))
        report.add(
            f"{problem}, {n} assets: ours",
            ours_t * 1e3,
            "ms",
            baseline_name="skfolio",
            baseline_value=took * 1e3,
            note=_agreement(ours, out, s, m, problem),
        )


def _agreement(ours: object, peer: object, s: np.ndarray, m: np.ndarray, problem: str) -> str:
    if isinstance(peer, Exception):
        return f"peer raised {type(peer).__name__}; ours kkt {ours.kkt_residual:.0e}"  # type: ignore[attr-defined]
    w = np.asarray(peer, dtype=float)
    ow = ours.weights  # type: ignore[attr-defined]
    diff = float(np.max(np.abs(ow - w)))
    if problem == "max Sharpe":
        gap = (ow @ m) / np.sqrt(ow @ s @ ow) - (w @ m) / np.sqrt(w @ s @ w)
        return f"max |w diff| {diff:.1e}, our Sharpe - peer's {gap:+.1e}"
    if problem == "min volatility":
        gap = ow @ s @ ow - w @ s @ w
        return f"max |w diff| {diff:.1e}, our variance - peer's {gap:+.1e}"
    return f"max |w diff| {diff:.1e}, our return - peer's {ow @ m - w @ m:+.1e}"


def _risk_parity(report: Report) -> None:
    import riskfolio

    from portfolios.analytics import risk_parity

    for n in (50, 200, 500):
        rets = _returns(n, seed=n + 1)
        cov = rets.cov()
        ours_t = best_of(3, lambda cov=cov: risk_parity.risk_parity(cov.to_numpy()))
        ours = risk_parity.risk_parity(cov.to_numpy())

        def peer(rets: pd.DataFrame = rets) -> np.ndarray:
            port = riskfolio.Portfolio(returns=rets)
            port.assets_stats(method_mu="hist", method_cov="hist")
            port.solvers = ["CLARABEL"]
            return (
                port.rp_optimization(model="Classic", rm="MV", rf=0, b=None, hist=True)
                .to_numpy()
                .ravel()
            )

        took, out = _once(_quiet(peer))
        note = f"ours kkt {ours.kkt_residual:.0e}"
        if not isinstance(out, Exception):
            note += f", max |w diff| {np.max(np.abs(ours.weights - out)):.1e}"
        report.add(
            f"risk parity, {n} assets: ours",
            ours_t * 1e3,
            "ms",
            baseline_name="riskfolio-lib",
            baseline_value=took * 1e3,
            note=note,
        )


def _ledoit_wolf(report: Report) -> None:
    from sklearn.covariance import ledoit_wolf

    from portfolios.analytics import risk_models

    for n in (50, 200, 500):
        x = _returns(n, seed=n + 2).to_numpy()
        ours_t = best_of(5, lambda x=x: risk_models.ledoit_wolf(x))
        peer_t = best_of(5, lambda x=x: ledoit_wolf(x))
        diff = float(
            np.max(np.abs(risk_models.ledoit_wolf(x).covariance.to_numpy() - ledoit_wolf(x)[0]))
        )
        report.add(
            f"Ledoit-Wolf, {n} assets x 1260 days: ours",
            ours_t * 1e3,
            "ms",
            baseline_name="scikit-learn",
            baseline_value=peer_t * 1e3,
            target="no slower",
            note=f"max |diff| {diff:.0e}",
        )


def _walk_forward(report: Report) -> None:
    """Each month-end from year 5 to 30: estimate mean and covariance from all months so far,
    choose long-only weights maximising mu'w - (5/2) w'Sigma w, hold for the month."""
    import cvxportfolio as cvx

    from portfolios.analytics import optimize

    n, months = 50, 360
    monthly = _returns(n, days=months, seed=50) * np.sqrt(21) + 0.004
    index = pd.date_range("1995-01-31", periods=months, freq="ME")
    monthly.index = index
    start = 60

    def ours() -> float:
        values = monthly.to_numpy()
        wealth = 1.0
        for t in range(start, months):
            past = values[:t]
            mu = past.mean(axis=0)
            cov = np.cov(past, rowvar=False)
            w = optimize.max_quadratic_utility(mu, cov, risk_aversion=5.0).weights
            wealth *= 1 + float(values[t] @ w)
        return wealth

    ours_t = best_of(2, ours)
    data = monthly.copy()
    data["USDOLLAR"] = 0.0

    def peer() -> object:
        policy = cvx.SinglePeriodOptimization(
            cvx.ReturnsForecast() - 2.5 * cvx.FullCovariance(),
            [cvx.LongOnly(), cvx.LeverageLimit(1)],
        )
        sim = cvx.MarketSimulator(returns=data, costs=[], cash_key="USDOLLAR")
        return sim.backtest(policy, start_time=index[start], end_time=index[-1])

    took, out = _once(_quiet(peer))
    note = f"{months - start} monthly re-optimisations"
    if isinstance(out, Exception):
        note += f"; cvxportfolio raised {type(out).__name__}: {str(out)[:120]}"
    report.add(
        f"walk-forward, {n} assets, 25 years monthly: ours",
        ours_t,
        "s",
        baseline_name="cvxportfolio",
        baseline_value=took,
        target=">= 10x faster",
        note=note,
    )


def _import_time(report: Report) -> None:
    code = (
        "import time; t = time.perf_counter(); import portfolios.analytics.optimize, "
        "portfolios.analytics.risk_models, portfolios.analytics.expected_returns, "
        "portfolios.analytics.black_litterman, portfolios.analytics.hrp, "
        "portfolios.analytics.risk_parity, portfolios.analytics.allocation; "
        "print(time.perf_counter() - t)"
    )
    base = (
        "import time; t = time.perf_counter(); import numpy, pandas; print(time.perf_counter() - t)"
    )
    took = min(
        float(
            subprocess.run(
                [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(3)
    )
    floor = min(
        float(
            subprocess.run(
                [sys.executable, "-c", base], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(3)
    )
    report.add(
        "import portfolio-construction modules",
        took,
        "s",
        baseline_name="numpy + pandas alone",
        baseline_value=floor,
        target="< 0.5 s",
    )


def run(report: Report) -> None:
    _import_time(report)
    _ledoit_wolf(report)
    _mean_variance(report)
    _risk_parity(report)
    _walk_forward(report)
