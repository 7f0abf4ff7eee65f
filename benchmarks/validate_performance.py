"""Validate the performance analytics on real data in ../shared/data.

1. Fama-French three-factor regression (famafrench/ff3_monthly_1926_2018.csv, Kenneth French's
   published factors) of SPY's monthly excess returns (etf_adjclose_monthly.csv, 1993-02 ..
   2018-11): SPY is the market, so the market beta must be near 1 (|beta - 1| < 0.05), alpha
   near 0 (|alpha| < 0.1% a month and within 2.5 standard errors) and R-squared above 0.95.
   SMB and HML are printed (SPY holds large caps: SMB negative; HML near 0). The
   coefficients must equal statsmodels' OLS on the same data to 1e-10.
2. benchmark_statistics of SPY against the market (Mkt-RF + RF, all US stocks, small caps
   included): beta near 1 (within 0.06), tracking error below 4% a year.
3. The monthly rebalanced 60/40 SPY/AGG blend from daily adjusted closes, compounded within
   each month, equals 0.6 r_SPY + 0.4 r_AGG of the month-end file (a month-end rebalance
   makes the month's return the weighted sum), to 1e-9.
4. TWR is blind to flows: an account buying SPY on the first day and adding money every month
   has a since-inception TWR equal to SPY's own total return over the same days, to 1e-9,
   while its MWR differs. The deposits arrive at the start of the day and buy at the latest
   close, the previous day's, as the paper broker fills during the day (money that waits for
   the day's close instead sits in cash for a day, and the TWR rightly shows that drag).
"""

import numpy as np
import pandas as pd

from benchmarks import SHARED_DATA


def _check(
    failures: list[str], ok: bool, label: str, expected: str, got: float, diff: float
) -> None:
    print(f"{label}: expected {expected}, got {got:.6g}, difference {diff:.3g}")
    if not ok:
        failures.append(f"{label}: expected {expected}, got {got:.6g}")


def run() -> list[str]:
    import statsmodels.api as sm

    from portfolios.analytics import benchmark, history, performance, regression

    failures: list[str] = []
    ff = pd.read_csv(SHARED_DATA / "famafrench" / "ff3_monthly_1926_2018.csv")
    ff.index = pd.PeriodIndex(pd.to_datetime(ff["Date"].astype(str), format="%Y%m"), freq="M")
    ff = ff.drop(columns="Date") / 100.0
    monthly = pd.read_csv(
        SHARED_DATA / "etf_adjclose_monthly.csv", index_col="date", parse_dates=True
    )
    spy = monthly["SPY"].pct_change(fill_method=None).dropna()
    spy.index = spy.index.to_period("M")
    data = pd.concat([spy.rename("SPY"), ff], axis=1, join="inner").dropna()
    print(
        f"1. SPY on the Fama-French factors, {data.index[0]} .. {data.index[-1]}, {len(data)} months"
    )
    excess = (data["SPY"] - data["RF"]).to_numpy()
    factors = data[["Mkt-RF", "SMB", "HML"]].to_numpy()
    fit = regression.factor_regression(excess, factors)
    beta_m, beta_smb, beta_hml = fit.betas
    _check(failures, abs(beta_m - 1) < 0.05, "market beta", "1 +- 0.05", beta_m, beta_m - 1)
    alpha_se = fit.std_errors[0]
    _check(
        failures,
        abs(fit.alpha) < 0.001 and abs(fit.alpha) < 2.5 * alpha_se,
        "alpha (per month)",
        f"0 +- 0.001 and within 2.5 SE ({alpha_se:.5f})",
        fit.alpha,
        fit.alpha,
    )
    _check(failures, fit.r_squared > 0.95, "R-squared", "> 0.95", fit.r_squared, fit.r_squared - 1)
    print(
        f"   SMB beta {beta_smb:.4f}, HML beta {beta_hml:.4f}; t-stats {np.round(fit.t_stats, 2)}"
    )
    reference = sm.OLS(excess, sm.add_constant(factors)).fit()
    diff = float(np.abs(np.r_[fit.alpha, fit.betas] - reference.params).max())
    _check(failures, diff < 1e-10, "coefficients vs statsmodels OLS", "|diff| < 1e-10", diff, diff)

    market = (data["Mkt-RF"] + data["RF"]).to_numpy()
    stats = regression.benchmark_statistics(
        data["SPY"].to_numpy(), market, risk_free=data["RF"].to_numpy(), periods_per_year=12
    )
    print("2. SPY against the market (Mkt-RF + RF), monthly")
    beta = float(stats.beta)
    _check(failures, abs(beta - 1) < 0.06, "beta", "1 +- 0.06", beta, beta - 1)
    te = float(stats.tracking_error)
    _check(failures, te < 0.04, "tracking error (a year)", "< 0.04", te, te)
    print(
        f"   alpha {float(stats.alpha_annualised):.4%} a year, R-squared {float(stats.r_squared):.4f}, "
        f"information ratio {float(stats.information_ratio):.3f}"
    )

    daily = pd.read_csv(SHARED_DATA / "etf_adjclose_daily.csv", index_col="date", parse_dates=True)
    pair = daily[["SPY", "AGG"]].dropna()
    pair = pair[pair.index >= pd.Timestamp("2003-10-31")]
    dates = pair.index.to_numpy().astype("datetime64[D]")
    blend = benchmark.blended_benchmark(dates, pair.to_numpy(), np.array([0.6, 0.4]))
    months, compounded = regression.monthly_returns(dates, blend.returns)
    month_end = monthly[["SPY", "AGG"]].pct_change(fill_method=None)
    month_end.index = month_end.index.to_period("M")
    expected = (0.6 * month_end["SPY"] + 0.4 * month_end["AGG"]).reindex(
        pd.PeriodIndex(months.astype("datetime64[D]"), freq="M")
    )
    both = np.isfinite(compounded) & np.isfinite(expected.to_numpy())
    diff = float(np.abs(compounded[both] - expected.to_numpy()[both]).max())
    print(f"3. 60/40 SPY/AGG blend, {both.sum()} months from daily closes vs the month-end file")
    _check(
        failures, diff < 1e-9 and both.sum() > 200, "max |monthly difference|", "< 1e-9", diff, diff
    )

    spy_daily = daily["SPY"].dropna()
    spy_daily = spy_daily[spy_daily.index >= pd.Timestamp("2015-01-02")]
    dates = spy_daily.index.to_numpy().astype("datetime64[D]")
    closes = spy_daily.to_numpy()[:, None]
    first_days = np.flatnonzero(benchmark.month_starts(dates))
    rows = {"account": [], "date": [], "kind": [], "amount": [], "security": [], "quantity": []}
    for n, t in enumerate(first_days):
        money = 10_000.0 if n == 0 else 500.0 + 50.0 * (n % 7)
        for kind, amount, security, quantity in (
            ("deposit", money, -1, 0.0),
            ("buy", -money, 0, money / closes[max(t - 1, 0), 0]),
        ):
            for key, value in zip(
                rows, (0, dates[t], kind, amount, security, quantity), strict=True
            ):
                rows[key].append(value)
    ledger = history.Ledger.from_columns(**rows, n_accounts=1)
    h = history.value_history(ledger, dates, closes)
    result = performance.period_returns(
        h, [performance.Period("all", None, dates[-1].item(), annualise=False)]
    )
    spy_return = closes[-1, 0] / closes[0, 0] - 1  # the first buy is at the first close
    twr = float(result.twr[0, 0])
    print(f"4. SPY account with {len(first_days)} monthly deposits, {dates[0]} .. {dates[-1]}")
    _check(
        failures,
        abs(twr - spy_return) < 1e-9,
        "TWR vs SPY total return",
        f"{spy_return:.6f}",
        twr,
        twr - spy_return,
    )
    print(
        f"   MWR (cumulative) {float(result.mwr_cumulative[0, 0]):.6f}: differs, as the timing of deposits counts"
    )
    return failures
