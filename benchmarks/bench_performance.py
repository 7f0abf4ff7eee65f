"""Performance from the ledger: TWR and MWR of 10,000 accounts over 5 years in one call.

A synthetic ledger (generated with numpy, no database): 10,000 accounts opened over the
first two years of a 5-year business-day calendar, each holding 5 of 20 securities; an opening
deposit bought across them, a monthly deposit bought into one of them, quarterly dividends,
advisory fees and trims, and yearly withdrawals in one account of ten. About 2.6 million
transactions. Measured:

* `performance.performance`: value history, daily TWR and MWR (XIRR) over the 7 standard
  periods for every account, in chunks of 2,000 accounts, against the same two functions
  called once per account in a Python loop (the per-account path a page uses), timed on a
  sample of accounts and scaled to 10,000 (it is linear in the number of accounts). The two
  must agree (checked on the sample).
* the MWR solve alone (`irr.solve_log_growth`, all (account, period) groups at once) against
  scipy's brentq called per group, on the same flows (sample, scaled).
"""

import numpy as np

from benchmarks import Report, best_of

ACCOUNTS = 10_000
SECURITIES = 20
HELD = 5
SAMPLE = 200


def _ledger(seed: int = 7) -> tuple[object, np.ndarray, np.ndarray]:
    from portfolios.analytics import history
    from portfolios.analytics.benchmark import month_starts

    rng = np.random.default_rng(seed)
    days = np.arange("2020-06-01", "2025-09-27", dtype="datetime64[D]")
    dates = days[np.is_busday(days)]
    n_days = len(dates)
    closes = 50 * np.cumprod(1 + rng.normal(0.0003, 0.012, size=(n_days, SECURITIES)), axis=0)
    previous = np.vstack([closes[:1], closes[:-1]])
    month_rows = np.flatnonzero(month_starts(dates))
    quarter_rows = month_rows[::3]
    year_rows = month_rows[::12]

    inception = rng.integers(0, n_days // 2, ACCOUNTS)
    held = np.argsort(rng.random((ACCOUNTS, SECURITIES)), axis=1)[:, :HELD]
    opening = rng.uniform(5_000, 100_000, ACCOUNTS).round(2)
    parts: list[dict[str, np.ndarray]] = []

    def add(account, row, kind, amount, security=None, quantity=None) -> None:
        n = len(account)
        parts.append(
            {
                "account": account,
                "row": row,
                "kind": np.full(n, kind),
                "amount": np.round(amount, 2),
                "security": np.full(n, -1) if security is None else security,
                "quantity": np.zeros(n) if quantity is None else quantity,
            }
        )

    accounts = np.arange(ACCOUNTS)
    add(accounts, inception, "deposit", opening)
    initial_qty = np.empty((ACCOUNTS, HELD))
    for k in range(HELD):
        price = previous[inception, held[:, k]]
        initial_qty[:, k] = np.round(opening / HELD / price, 4)
        add(accounts, inception, "buy", -initial_qty[:, k] * price, held[:, k], initial_qty[:, k])
    # Monthly deposits, each bought into one of the account's securities at the latest close.
    a, m = np.nonzero(month_rows[None, :] > inception[:, None])
    rows = month_rows[m]
    money = rng.uniform(200, 2_000, len(a)).round(2)
    pick = held[a, rng.integers(0, HELD, len(a))]
    add(a, rows, "deposit", money)
    add(a, rows, "buy", -money, pick, np.round(money / previous[rows, pick], 4))
    # Quarterly: dividends on the opening holdings, an advisory fee, a 5% trim of one holding.
    a, q = np.nonzero(quarter_rows[None, :] > inception[:, None])
    rows = quarter_rows[q]
    for k in range(HELD):
        add(a, rows, "dividend", initial_qty[a, k] * closes[rows, held[a, k]] * 0.004, held[a, k])
    add(a, rows, "fee", -opening[a] * 0.0006)
    k = rng.integers(0, HELD, len(a))
    trim = np.round(initial_qty[a, k] * 0.05, 4)
    add(a, rows, "sell", trim * closes[rows, held[a, k]], held[a, k], trim)
    # Yearly withdrawals in one account of ten.
    a, y = np.nonzero((year_rows[None, :] > inception[:, None]) & (accounts[:, None] % 10 == 0))
    add(a, year_rows[y], "withdrawal", -opening[a] * 0.04)

    columns = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    ledger = history.Ledger.from_columns(
        account=columns["account"],
        date=dates[columns["row"]],
        kind=columns["kind"],
        amount=columns["amount"],
        security=columns["security"],
        quantity=columns["quantity"],
        n_accounts=ACCOUNTS,
    )
    return ledger, dates, closes


def _per_account(ledger, dates, closes, periods, accounts: np.ndarray) -> list[object]:
    from portfolios.analytics import history, performance

    order = np.argsort(ledger.account, kind="stable")
    sorted_accounts = ledger.account[order]
    out = []
    for account in accounts:
        lo, hi = np.searchsorted(sorted_accounts, [account, account + 1])
        one = ledger.take(order[lo:hi], account_offset=int(account), n_accounts=1)
        out.append(performance.period_returns(history.value_history(one, dates, closes), periods))
    return out


def _brentq_per_group(amounts, tau, group, n_groups: int) -> np.ndarray:
    from scipy import optimize

    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(n_groups + 1))
    out = np.full(n_groups, np.nan)
    for g in range(n_groups):
        rows = order[bounds[g] : bounds[g + 1]]
        a, t = amounts[rows], tau[rows]
        if len(a) < 2 or t.max() <= 0:
            continue

        def npv(y: float, a: np.ndarray = a, t: np.ndarray = t) -> float:
            return float(np.sum(a * np.exp(-y * t)))

        if npv(-25.0) * npv(25.0) < 0:
            out[g] = optimize.brentq(npv, -25.0, 25.0, xtol=1e-13)
    return out


def run(report: Report) -> None:
    from portfolios.analytics import history, irr, performance

    ledger, dates, closes = _ledger()
    periods = performance.standard_periods(dates[-1].item())
    print(
        f"{ACCOUNTS:,} accounts, {len(ledger):,} transactions, {len(dates)} days, {SECURITIES} securities"
    )

    result = None

    def vectorised() -> None:
        nonlocal result
        result = performance.performance(ledger, dates, closes, periods)

    seconds = best_of(2, vectorised)
    sample = np.random.default_rng(1).choice(ACCOUNTS, SAMPLE, replace=False)
    loop_results: list[object] = []

    def loop() -> None:
        loop_results[:] = _per_account(ledger, dates, closes, periods, sample)

    loop_seconds = best_of(1, loop) * ACCOUNTS / SAMPLE
    assert result is not None
    for i, account in enumerate(sample):
        np.testing.assert_allclose(
            loop_results[i].twr[:, 0], result.twr[:, account], rtol=1e-9, equal_nan=True
        )
        np.testing.assert_allclose(
            loop_results[i].mwr[:, 0], result.mwr[:, account], rtol=1e-8, equal_nan=True
        )
    report.add(
        f"TWR + MWR, {ACCOUNTS:,} accounts x 5 years x 7 periods, one vectorised call",
        seconds,
        "s",
        baseline_name=f"per-account loop of the same functions ({SAMPLE} accounts, scaled x{ACCOUNTS // SAMPLE})",
        baseline_value=loop_seconds,
        note=f"{len(ledger):,} transactions; results equal on the sample",
    )
    available = np.isfinite(result.twr)
    print(
        f"   periods with a return: {available.sum(axis=1).tolist()} of {ACCOUNTS} "
        f"({', '.join(result.names)}); MWR statuses {np.bincount(result.mwr_status.ravel(), minlength=4).tolist()}"
    )

    # The MWR solve alone, on the flows of the first chunk's since-inception periods.
    chunk = ledger.take(ledger.account < 2_000, n_accounts=2_000)
    h = history.value_history(chunk, dates, closes)
    start = h.inception
    rows, accounts = np.nonzero(h.inflow)
    out_rows, out_accounts = np.nonzero(h.outflow)
    day = dates.astype(np.int64)
    amounts = np.concatenate(
        [-h.inflow[rows, accounts], h.outflow[out_rows, out_accounts], h.value[-1]]
    )
    group = np.concatenate([accounts, out_accounts, np.arange(2_000)])
    flow_days = np.concatenate([day[rows], day[out_rows], np.full(2_000, day[-1])])
    span = (day[-1] - day[start]).astype(float)
    tau = (flow_days - day[start][group]) / span[group]
    solve = best_of(3, lambda: irr.solve_log_growth(amounts, tau, group, 2_000))
    ours = irr.solve_log_growth(amounts, tau, group, 2_000).growth
    subset = 300
    keep = group < subset
    brent_seconds = best_of(
        1, lambda: _brentq_per_group(amounts[keep], tau[keep], group[keep], subset)
    )
    reference = _brentq_per_group(amounts[keep], tau[keep], group[keep], subset)
    np.testing.assert_allclose(ours[:subset], reference, rtol=1e-9, atol=1e-12)
    report.add(
        f"MWR (XIRR) of 2,000 accounts, {len(amounts):,} dated flows, one call",
        solve * 1000,
        "ms",
        baseline_name=f"scipy brentq per account ({subset} accounts, scaled x{2_000 / subset:.1f})",
        baseline_value=brent_seconds * 2_000 / subset * 1000,
        note="same roots",
    )
