"""Performance of an account or a household, read from the ledger and the daily closes.

Loading takes a fixed number of queries however many transactions and days: the accounts'
transactions, their securities and targets, one price matrix of raw closes (the ledger's
dividends arrive as cash, so adjusted closes would count them twice) and one of adjusted closes
for the benchmark, realised gains (LotSale) and the investor's tax rates. The math is
`portfolios.analytics` (history, performance, benchmark, regression, attribution, drawdown):
this module converts rows to arrays and back, and nothing here restates a formula.

Calendar: every trading session from the one before the first transaction to `today`, plus
the days transactions are dated on (a Saturday deposit is a day of its own). Closes are carried
forward over days without one.

No invented history: an account has no value before its first transaction. Securities
transferred in count from the day the advisor recorded them when that is later than their
trade date: an imported position is dated on its newest lot's purchase, but before it was
recorded nobody knows what else the account held, so valuing it backwards would show gains the
investor never had here.

Benchmark: each account's target allocation blended from the securities its targets buy for
each asset class (adjusted closes), rebalanced monthly (`analytics.benchmark`). The
household's benchmark blends the accounts' targets weighted by each account's value today.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from accounts.models import InvestorProfile, User
from advisor.core import clock
from portfolios import market_calendar
from portfolios import selectors as portfolio_selectors
from portfolios.analytics import (
    attribution,
    benchmark,
    drawdown,
    history,
    irr,
    metrics,
    performance,
    regression,
)
from portfolios.models import LotSale, Portfolio, Security, Transaction

TRADING_DAYS = 252
CASH = "cash"


@dataclass(frozen=True)
class Loaded:
    """The ledger of `portfolio_ids` (one ledger account per id, in order) on `dates` [T]."""

    portfolios: list[Portfolio]
    ledger: history.Ledger
    dates: np.ndarray
    closes: np.ndarray  # [T, S] raw closes, carried forward
    security_ids: list[int]  # columns of closes
    class_of_security: np.ndarray  # [S] index into class_codes
    class_codes: list[str]
    targets: pd.DataFrame  # selectors.targets rows

    @property
    def portfolio_ids(self) -> list[int]:
        return [p.pk for p in self.portfolios]


def _transactions(ids: list[int], today: dt.date) -> pd.DataFrame:
    rows = Transaction.objects.filter(portfolio_id__in=ids, trade_date__lte=today).values_list(
        "portfolio_id",
        "trade_date",
        "kind",
        "security_id",
        "quantity",
        "amount",
        "fees",
        "created_at",
    )
    frame = pd.DataFrame(
        list(rows),
        columns=[
            "portfolio_id",
            "trade_date",
            "kind",
            "security_id",
            "quantity",
            "amount",
            "fees",
            "created_at",
        ],
    )
    if frame.empty:
        return frame
    transferred = (frame["kind"] == Transaction.Kind.TRANSFER_IN) & frame["security_id"].notna()
    if transferred.any():
        frame.loc[transferred, "trade_date"] = _arrival_days(frame, transferred, today)
    return frame


def _arrival_days(frame: pd.DataFrame, transferred: pd.Series, today: dt.date) -> list[dt.date]:
    """The day each position transferred in counts from: the day it was recorded when later
    than its trade date, but never after a sale or transfer out of the same security in the
    same account dated after the trade date (history entered out of order stays consistent)."""
    leaving = frame["kind"].isin([Transaction.Kind.SELL, Transaction.Kind.TRANSFER_OUT])
    exits: dict[tuple[int, int], list[dt.date]] = {}
    for pid, sid, day in frame.loc[
        leaving, ["portfolio_id", "security_id", "trade_date"]
    ].itertuples(index=False):
        exits.setdefault((int(pid), int(sid)), []).append(day)
    for days in exits.values():
        days.sort()
    out = []
    rows = frame.loc[transferred, ["portfolio_id", "security_id", "trade_date", "created_at"]]
    for pid, sid, traded, created in rows.itertuples(index=False):
        day = min(max(traded, clock.local_date(created)), today)
        later = exits.get((int(pid), int(sid)), [])
        first_exit = next((d for d in later if d >= traded), None)
        out.append(min(day, first_exit) if first_exit is not None else day)
    return out


def closes_on(frame: pd.DataFrame, columns: Sequence[int], dates: np.ndarray) -> np.ndarray:
    """[T, S] closes of `frame` (a price_frame by id) on `dates`, carried forward over gaps
    (from closes before the first date too); NaN before a security's first close."""
    if frame.empty:
        return np.full((len(dates), len(columns)), np.nan)
    index = pd.DatetimeIndex(np.asarray(dates, dtype="datetime64[ns]"))
    wide = frame.reindex(columns=list(columns))
    wide = wide.reindex(wide.index.union(index)).ffill().reindex(index)
    return wide.to_numpy(dtype=float)


def calendar(first: dt.date, today: dt.date, transaction_days: np.ndarray) -> np.ndarray:
    """Sessions from the one before `first` to `today`, plus the transaction days."""
    start = market_calendar.previous_session(first)
    sessions = market_calendar.sessions(start, today)
    return np.union1d(sessions, np.asarray(transaction_days, dtype="datetime64[D]"))


def load(
    portfolios: Sequence[Portfolio], *, today: dt.date, with_targets: bool = True
) -> Loaded | None:
    """Everything the performance of `portfolios` needs; None when none has a transaction.
    `with_targets=False` skips targets and asset classes (value history only)."""
    portfolios = list(portfolios)
    ids = [p.pk for p in portfolios]
    frame = _transactions(ids, today)
    if frame.empty:
        return None
    targets = (
        portfolio_selectors.targets(ids)
        if with_targets
        else pd.DataFrame(columns=["portfolio_id", "asset_class", "weight", "security_id"])
    )
    held = {int(s) for s in frame["security_id"].dropna()}
    security_ids = sorted(held | {int(s) for s in targets["security_id"]})
    classes: dict[int, str] = {}
    if with_targets:
        classes = dict(
            Security.objects.filter(pk__in=security_ids)
            .order_by("asset_class__sort_order", "asset_class__name")
            .values_list("pk", "asset_class__code")
        )
    codes = list(dict.fromkeys(classes.values()))
    class_index = {code: i for i, code in enumerate(codes)}
    dates = calendar(
        min(frame["trade_date"]), today, np.asarray(frame["trade_date"], dtype="datetime64[D]")
    )
    prices = portfolio_selectors.price_frame(
        security_ids, start=dates[0].item() - dt.timedelta(days=10), end=today, columns="id"
    )
    column = {pid: i for i, pid in enumerate(ids)}
    security_column = {sid: i for i, sid in enumerate(security_ids)}
    ledger = history.Ledger.from_columns(
        account=frame["portfolio_id"].map(column).to_numpy(),
        date=np.asarray(frame["trade_date"], dtype="datetime64[D]"),
        kind=frame["kind"].to_numpy(),
        security=frame["security_id"].map(security_column).to_numpy(dtype=float),
        quantity=frame["quantity"].to_numpy(dtype=float),
        amount=frame["amount"].to_numpy(dtype=float),
        fees=frame["fees"].to_numpy(dtype=float),
        n_accounts=len(ids),
    )
    return Loaded(
        portfolios=portfolios,
        ledger=ledger,
        dates=dates,
        closes=closes_on(prices, security_ids, dates),
        security_ids=security_ids,
        class_of_security=np.array(
            [class_index.get(classes.get(s, ""), 0) for s in security_ids], dtype=np.int64
        ),
        class_codes=codes,
        targets=targets,
    )


# --- results -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodRow:
    """One period of the return table (fractions; NaN where the period is not available)."""

    name: str
    start: dt.date | None
    end: dt.date | None
    annualised: bool
    twr: float
    mwr: float
    mwr_status: str  # irr.STATUS_NAMES: why there is no money-weighted rate ("ok" when there is)
    after_tax: float | None
    benchmark: float
    gain: float
    inflows: float
    outflows: float
    income: float
    fees: float
    costs: float

    @property
    def available(self) -> bool:
        return bool(np.isfinite(self.twr))

    @property
    def active(self) -> float:
        return self.twr - self.benchmark

    @property
    def fees_and_costs(self) -> float:
        return self.fees + self.costs


@dataclass(frozen=True)
class AttributionRow:
    code: str
    allocation: float
    selection: float
    interaction: float

    @property
    def total(self) -> float:
        return self.allocation + self.selection + self.interaction


@dataclass(frozen=True)
class AttributionTable:
    """Effects by class over one period; `active` their sum (= the period's cumulative
    return minus the benchmark's)."""

    period: str
    rows: list[AttributionRow]
    active: float


@dataclass
class Report:
    """The performance of one account or a household, as plain numbers for a page.

    dates / value / cash: the daily history from inception (dollars); benchmark_value: the same
    deposits and withdrawals invested in the benchmark (None without a target or prices);
    drawdown: of the time-weighted wealth index (fractions <= 0); periods: the return table;
    risk: statistics of daily returns (annualised); attribution: Brinson-Fachler effects by
    asset class per available period (GRAP-linked), since inception last.
    """

    dates: list[dt.date]
    value: np.ndarray
    benchmark_value: np.ndarray | None
    drawdown: np.ndarray
    periods: list[PeriodRow]
    risk: dict[str, float]
    attribution: list[AttributionTable]
    realised: dict[str, float]
    unrealised: float
    tax_rates: dict[str, float] | None
    taxable: bool
    benchmark_weights: dict[str, float] = field(default_factory=dict)

    @property
    def realised_total(self) -> float:
        return self.realised["short_term"] + self.realised["long_term"]

    @property
    def active(self) -> float | None:
        """The active return since inception explained by the attribution (None without)."""
        return self.attribution[-1].active if self.attribution else None

    @property
    def current_value(self) -> float:
        return float(self.value[-1])

    def period(self, name: str) -> PeriodRow:
        return next(p for p in self.periods if p.name == name)


def _account_weights(loaded: Loaded) -> np.ndarray:
    """[A, C] target weights per account over loaded.class_codes (rows of zeros: no target)."""
    weights = np.zeros((len(loaded.portfolios), len(loaded.class_codes)))
    code_index = {code: i for i, code in enumerate(loaded.class_codes)}
    account_index = {pid: i for i, pid in enumerate(loaded.portfolio_ids)}
    for pid, code, weight in loaded.targets[["portfolio_id", "asset_class", "weight"]].itertuples(
        index=False
    ):
        weights[account_index[int(pid)], code_index[str(code)]] += float(weight)
    return weights


def _index_closes(loaded: Loaded, today: dt.date) -> np.ndarray:
    """[T, C] adjusted closes of the security each class's target buys (the first one found);
    NaN columns for classes no target names."""
    security_of: dict[str, int] = {}
    for code, sid in loaded.targets[["asset_class", "security_id"]].itertuples(index=False):
        security_of.setdefault(str(code), int(sid))
    ids = sorted(set(security_of.values()))
    frame = portfolio_selectors.price_frame(
        ids,
        start=loaded.dates[0].item() - dt.timedelta(days=10),
        end=today,
        adjusted=True,
        columns="id",
    )
    columns = [security_of.get(code, -1) for code in loaded.class_codes]
    return closes_on(frame, columns, loaded.dates)


@dataclass(frozen=True)
class Blend:
    """The benchmark of the subject: daily returns [T] (NaN where an index has no close yet),
    class returns [T, C] (NaN for classes outside the target) and start-of-day class weights
    [T, C]; `weights` [C] the target."""

    returns: np.ndarray
    class_returns: np.ndarray
    class_weights: np.ndarray
    weights: np.ndarray


def blend(loaded: Loaded, weights: np.ndarray, today: dt.date) -> Blend | None:
    """The monthly rebalanced blend of the classes' index closes at `weights` [C] (fractions
    summing to 1); None when they do not (no target)."""
    if not np.isclose(weights.sum(), 1.0, atol=1e-6):
        return None
    used = weights > 0
    # Classes outside the target have no index; the blend never weighs them.
    closes = np.where(used[None, :], _index_closes(loaded, today), 1.0)
    mix = benchmark.blended_benchmark(loaded.dates, closes, weights, with_class_weights=True)
    assert mix.class_weights is not None
    return Blend(
        returns=mix.returns,
        class_returns=np.where(used[None, :], mix.class_returns, np.nan),
        class_weights=mix.class_weights,
        weights=weights,
    )


def _tax(loaded: Loaded, values: history.ValueHistory, today: dt.date) -> tuple[np.ndarray, dict]:
    """(tax charged per day and account [T, A] in dollars, realised gains and rates): realised
    short-term gains and income at the investor's ordinary rate, long-term gains at the
    long-term rate (federal plus state: InvestorProfile.combined_rates), in taxable accounts
    only (0 in tax-deferred ones)."""
    ids = loaded.portfolio_ids
    column = {pid: i for i, pid in enumerate(ids)}
    rows = list(
        LotSale.objects.filter(
            transaction__portfolio_id__in=ids, transaction__trade_date__lte=today
        ).values_list(
            "transaction__portfolio_id", "transaction__trade_date", "gain", "is_long_term"
        )
    )
    account = np.array([column[r[0]] for r in rows], dtype=np.int64)
    when = np.array([r[1] for r in rows], dtype="datetime64[D]")
    gain = np.array([float(r[2]) for r in rows])
    long_term = np.array([bool(r[3]) for r in rows], dtype=bool)
    n = len(ids)
    short = history.daily_totals(loaded.dates, account, when, np.where(long_term, 0.0, gain), n)
    long = history.daily_totals(loaded.dates, account, when, np.where(long_term, gain, 0.0), n)
    owner_ids = {p.owner_id for p in loaded.portfolios}
    profile = InvestorProfile.objects.filter(user_id__in=owner_ids).first()
    fields = {f.name: f for f in InvestorProfile._meta.fields}
    short_default = fields["short_term_tax_rate"].default
    long_default = fields["long_term_tax_rate"].default
    ordinary, long_rate = (
        (float(r) for r in profile.combined_rates())
        if profile
        else (float(short_default), float(long_default))
    )
    taxable = np.array(
        [p.tax_treatment == Portfolio.TaxTreatment.TAXABLE for p in loaded.portfolios]
    )
    charges = performance.tax_charges(
        short_term_gains=short,
        long_term_gains=long,
        income=values.income,
        short_term_rate=np.where(taxable, ordinary, 0.0),
        long_term_rate=np.where(taxable, long_rate, 0.0),
        income_rate=np.where(taxable, ordinary, 0.0),
    )
    year_start = np.datetime64(dt.date(today.year, 1, 1), "D")
    this_year = loaded.dates >= year_start
    facts = {
        "short_term": float(short.sum()),
        "long_term": float(long.sum()),
        "short_term_ytd": float(short[this_year].sum()),
        "long_term_ytd": float(long[this_year].sum()),
        "rates": {"ordinary": ordinary, "long_term": long_rate} if taxable.any() else None,
    }
    return charges, facts


def _benchmark_cumulative(returns: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Compounded benchmark return from the close of each `start` row to the close of `end`
    (NaN when an index has no close in between)."""
    growth = np.cumprod(np.r_[1.0, 1.0 + np.nan_to_num(returns[1:])])
    missing = np.cumsum(np.r_[0, np.isnan(returns[1:])])
    out = growth[end] / growth[start] - 1.0
    return np.where(missing[end] - missing[start] > 0, np.nan, out)


def _period_rows(
    results: performance.PeriodReturns, bench: Blend | None, dates: np.ndarray, taxable: bool
) -> list[PeriodRow]:
    rows = []
    day = np.timedelta64(1, "D")
    for p, name in enumerate(results.names):
        start, end = results.start[p, 0], results.end[p, 0]
        available = not np.isnat(end)
        bench_return = np.nan
        if bench is not None and available:
            s = int(np.searchsorted(dates, start, side="left"))
            # Since inception starts before the first day's inflow: the close before it.
            if name == "inception":
                s = max(int(np.searchsorted(dates, start, side="left")) - 1, 0)
            e = int(np.searchsorted(dates, end, side="left"))
            cumulative = float(
                _benchmark_cumulative(bench.returns, np.array([s]), np.array([e]))[0]
            )
            days = float(results.days[p, 0])
            bench_return = (
                (1.0 + cumulative) ** (history.DAYS_PER_YEAR / days) - 1.0
                if results.annualised[p, 0]
                else cumulative
            )
        rows.append(
            PeriodRow(
                name=name,
                start=(start + (0 if name == "inception" else 1) * day).item()
                if available
                else None,
                end=end.item() if available else None,
                annualised=bool(results.annualised[p, 0]),
                twr=float(results.twr[p, 0]),
                mwr=float(results.mwr[p, 0]),
                mwr_status=irr.STATUS_NAMES[int(results.mwr_status[p, 0])],
                after_tax=(
                    float(results.twr_after_tax[p, 0])
                    if taxable and results.twr_after_tax is not None
                    else None
                ),
                benchmark=bench_return,
                gain=float(results.gain[p, 0]),
                inflows=float(results.inflows[p, 0]),
                outflows=float(results.outflows[p, 0]),
                income=float(results.income[p, 0]),
                fees=float(results.fees[p, 0]),
                costs=float(results.costs[p, 0]),
            )
        )
    return rows


def benchmark_value(values: history.ValueHistory, returns: np.ndarray) -> np.ndarray:
    """[T] dollars: the subject's own inflows (start of day) and outflows (end of day) invested
    in the benchmark, B_t = (B_{t-1} + I_t)(1 + b_t) - O_t, from zero before inception."""
    b = np.where(np.arange(len(returns)) <= values.inception[0], 0.0, returns)
    growth = np.cumprod(1.0 + b)
    before = np.r_[1.0, growth[:-1]]
    units = np.cumsum(values.inflow[:, 0] / before - values.outflow[:, 0] / growth)
    return growth * units


def _risk(returns: np.ndarray, bench: np.ndarray | None) -> dict[str, float]:
    """Annualised statistics of daily returns (from inception) and against the benchmark."""
    wealth = np.cumprod(np.r_[1.0, 1.0 + np.nan_to_num(returns, nan=0.0)])
    out: dict[str, float] = {"max_drawdown": float(drawdown.drawdowns(returns).min())}
    if len(wealth) >= 3:
        out["volatility"] = float(metrics.volatility(wealth))
        out["sharpe"] = float(metrics.sharpe(wealth))
        out["sortino"] = float(metrics.sortino(wealth))
    if bench is not None:
        stats = regression.benchmark_statistics(returns, bench, periods_per_year=TRADING_DAYS)
        out.update(
            alpha=float(stats.alpha_annualised),
            beta=float(stats.beta),
            r_squared=float(stats.r_squared),
            tracking_error=float(stats.tracking_error),
            information_ratio=float(stats.information_ratio),
        )
    return out


def _daily_effects(
    loaded: Loaded, bench: Blend, first: int
) -> tuple[attribution.Effects, np.ndarray, np.ndarray]:
    """Brinson-Fachler effects by class and cash for each day from `first` (a row with a
    benchmark return) to the end [T', C + 1], with the days' portfolio and benchmark returns
    [T']. A class outside the target earns the benchmark's total (no allocation effect of its
    own); cash earns nothing in the benchmark."""
    rows = slice(first, len(loaded.dates))
    sleeves = attribution.sleeves(
        loaded.ledger,
        loaded.dates,
        loaded.closes,
        loaded.class_of_security,
        len(loaded.class_codes),
    )
    together = attribution.Sleeves(
        start_capital=sleeves.start_capital.sum(axis=1)[rows],
        end_value=sleeves.end_value.sum(axis=1)[rows],
    )
    wp, rp, contribution = together.weights(), together.returns(), together.contributions()
    total_b = bench.returns[rows]
    rb = np.where(np.isnan(bench.class_returns[rows]), total_b[:, None], bench.class_returns[rows])
    rb = np.concatenate([rb, np.zeros((len(rb), 1))], axis=1)
    wb = np.concatenate([bench.class_weights[rows], np.zeros((len(rb), 1))], axis=1)
    effects = attribution.brinson_fachler(wp, rp, wb, rb, portfolio_contribution=contribution)
    return effects, contribution.sum(axis=1), (wb * rb).sum(axis=1)


def _attribution(
    loaded: Loaded, bench: Blend, first: int, periods: list[PeriodRow]
) -> list[AttributionTable]:
    """One GRAP-linked table per available period (the daily effects computed once)."""
    effects, portfolio_returns, benchmark_returns = _daily_effects(loaded, bench, first)
    codes = [*loaded.class_codes, CASH]
    tables = []
    for period in periods:
        if not period.available or period.start is None or period.end is None:
            continue
        lo = int(np.searchsorted(loaded.dates, np.datetime64(period.start, "D"))) - first
        hi = int(np.searchsorted(loaded.dates, np.datetime64(period.end, "D"))) + 1 - first
        window = slice(max(lo, 0), hi)
        linked = attribution.link_grap(
            attribution.Effects(
                effects.allocation[window], effects.selection[window], effects.interaction[window]
            ),
            portfolio_returns[window],
            benchmark_returns[window],
        )
        rows = [
            AttributionRow(code, float(a), float(s), float(i))
            for code, a, s, i in zip(
                codes, linked.allocation, linked.selection, linked.interaction, strict=True
            )
        ]
        tables.append(AttributionTable(period.name, rows, float(linked.active)))
    return tables


def _subject(
    loaded: Loaded, values: history.ValueHistory, tax: np.ndarray, household: bool
) -> tuple[history.ValueHistory, np.ndarray, np.ndarray]:
    """(history [T, 1], tax [T, 1], target weights [C]) of the account or the household; the
    household's target blends the accounts' targets weighted by their value today."""
    weights = _account_weights(loaded)
    if not household:
        return values, tax, weights[0]
    combined = history.combine(values, np.zeros(values.n_accounts, dtype=np.int64), 1)
    today_value = np.nan_to_num(values.value[-1], nan=0.0)
    targeted = weights.sum(axis=1) > 0
    if not targeted.all() or today_value.sum() <= 0:
        household_weights = np.zeros(len(loaded.class_codes))
    else:
        household_weights = today_value @ weights / today_value.sum()
    return combined, tax.sum(axis=1, keepdims=True), household_weights


def report(portfolios: Sequence[Portfolio], *, today: dt.date, household: bool) -> Report | None:
    """The performance of one account (`household=False`, one portfolio) or of a household
    (its accounts together); None when there is no transaction yet."""
    loaded = load(portfolios, today=today)
    if loaded is None:
        return None
    values = history.value_history(loaded.ledger, loaded.dates, loaded.closes)
    tax, realised = _tax(loaded, values, today)
    subject, subject_tax, weights = _subject(loaded, values, tax, household)
    taxable = realised["rates"] is not None
    results = performance.period_returns(
        subject, performance.standard_periods(today), tax=subject_tax
    )
    returns = performance.daily_returns(subject)[:, 0]
    bench = blend(loaded, weights, today)
    first = int(subject.inception[0])
    span = slice(first, len(loaded.dates))
    bench_returns = bench.returns if bench is not None else None
    usable = bench_returns is not None and bool(np.isfinite(bench_returns[span]).all())
    periods = _period_rows(results, bench, loaded.dates, taxable)
    tables = _attribution(loaded, bench, first, periods) if bench is not None and usable else []
    lots = portfolio_selectors.holdings(loaded.portfolio_ids)
    return Report(
        dates=[d.item() for d in loaded.dates[span]],
        value=subject.value[span, 0],
        benchmark_value=(
            benchmark_value(subject, bench_returns)[span]
            if bench_returns is not None and usable
            else None
        ),
        drawdown=drawdown.drawdowns(returns[span]),
        periods=periods,
        risk=_risk(
            returns[span], bench_returns[span] if usable and bench_returns is not None else None
        ),
        attribution=tables,
        realised=realised,
        unrealised=float(lots["unrealised_gain"].sum()) if not lots.empty else 0.0,
        tax_rates=realised["rates"],
        taxable=taxable,
        benchmark_weights={
            code: float(w) for code, w in zip(loaded.class_codes, weights, strict=True) if w > 0
        },
    )


def account_report(portfolio: Portfolio, *, today: dt.date) -> Report | None:
    return report([portfolio], today=today, household=False)


def household_report(user: User, *, today: dt.date) -> Report | None:
    portfolios = list(Portfolio.objects.for_user(user).active().order_by("name"))
    return report(portfolios, today=today, household=True) if portfolios else None


@dataclass(frozen=True)
class ValueSummary:
    """The dashboard's household value from the ledger: `dates` and `daily_values` (dollars) of the
    last `days` calendar days (from inception when younger); `gain`: the investment gain
    (value change net of deposits and withdrawals) over the last year, or since inception
    when the household is younger (`since` is that start date), with `twr` its time-weighted
    return."""

    dates: list[dt.date]
    daily_values: list[float | None]  # None where a held security has no close yet
    gain: float
    twr: float
    since: dt.date | None
    whole_year: bool

    @property
    def chart(self) -> dict[str, list]:
        """What a value chart draws (json_script)."""
        return {"labels": [d.isoformat() for d in self.dates], "values": self.daily_values}


def household_value(
    portfolios: Sequence[Portfolio], *, today: dt.date, days: int = 365
) -> ValueSummary | None:
    """The household's ledger history for the dashboard; None before any transaction."""
    loaded = load(portfolios, today=today, with_targets=False)
    if loaded is None:
        return None
    values = history.value_history(loaded.ledger, loaded.dates, loaded.closes)
    combined = history.combine(values, np.zeros(values.n_accounts, dtype=np.int64), 1)
    one_year = performance.Period("1y", performance.years_before(today, 1), today)
    inception = performance.Period("inception", None, today)
    results = performance.period_returns(combined, (one_year, inception))
    whole_year = bool(np.isfinite(results.twr[0, 0]))
    p = 0 if whole_year else 1
    start = results.start[p, 0]
    window = (loaded.dates > np.datetime64(today - dt.timedelta(days=days), "D")) & (
        np.arange(len(loaded.dates)) >= combined.inception[0]
    )
    return ValueSummary(
        dates=[d.item() for d in loaded.dates[window]],
        daily_values=[
            round(float(v), 2) if np.isfinite(v) else None for v in combined.value[window, 0]
        ],
        gain=float(results.gain[p, 0]),
        twr=float(results.twr[p, 0]),
        since=None if np.isnat(start) else start.item(),
        whole_year=whole_year,
    )


@dataclass(frozen=True)
class HouseholdReturns:
    """Daily time-weighted returns [T, H] of households (owners) on `dates` [T]; NaN before a
    household's first transaction."""

    owner_ids: list[int]
    dates: np.ndarray
    returns: np.ndarray


def household_returns(
    portfolios: Sequence[Portfolio], *, today: dt.date
) -> HouseholdReturns | None:
    """Every household of `portfolios` in one vectorised pass (one ledger, one price matrix):
    the accounts' histories combined per owner, then their daily returns."""
    loaded = load(portfolios, today=today, with_targets=False)
    if loaded is None:
        return None
    owner_ids = sorted({p.owner_id for p in loaded.portfolios})
    group = np.array([owner_ids.index(p.owner_id) for p in loaded.portfolios], dtype=np.int64)
    values = history.value_history(loaded.ledger, loaded.dates, loaded.closes)
    combined = history.combine(values, group, len(owner_ids))
    return HouseholdReturns(owner_ids, loaded.dates, performance.daily_returns(combined))
