"""Backtests of rebalancing policies over a daily price frame, decided by the live engine.

What it answers: what would this policy (or these V variants of it) have done since `start`:
its value, cash and weights every day, every trade, costs, turnover and the metrics of
`portfolios.analytics.metrics`; with `tax=TaxSettings(...)` also lots, realised gains per
year, wash sales, harvesting and taxes paid out of the portfolio (see `backtest_tax`).

The decisions are the live drift check's: on every day a rule could fire the backtest builds
the same `Book` the drift check builds (variants are its portfolios) and calls
`policy.evaluate`; the trades come from `trades.class_trades`, `trades.buy_budget`,
`trades.waterfill`, `trades.buy_shares` and `trades.trade_costs`, the functions
`trades.generate` itself is made of (the tax-aware mode calls `trades.generate` whole). A
property test checks both paths give the drift check's trades on the same holdings.

Conventions:
- Prices are daily closes, one column per security; total-return (adjusted) closes make the
  backtest reinvest distributions inside the price. Trades fill at the day's close, in
  fractional shares, at that close plus the cost model (commission per trade + slippage bps).
- Each target class is held through one security (its column in `target`); the day-0
  investment of `initial` is a cash flow deployed to the target, whatever the policy (a
  buy-and-hold policy then never trades again). The scheduled date on or before the start
  counts as served by it.
- The pre-tax mode holds one position per class and ignores the lot rules (short-term gains
  held back, tax cap, wash-sale guard): they need lots, which is the tax-aware mode.
- A scheduled calendar date counts as served by the first rebalance on or after it in which
  the calendar rule fired. A withdrawal (a negative flow, or tax due) always raises its cash,
  as a cash-flow rule would, even when the policy's cash-flow rule is off.
- Days on which nothing can fire are not evaluated one by one: for the days ahead the
  backtest values each holding mix once and applies the engine's band and cash rules
  (`policy.breach_levels`, the band rule turned around and tested equal to
  `policy.outside_bands`, and `policy.cash_flow_fires`) to every variant at once, then steps
  to the first day anything fires or is scheduled (a calendar date, a flow, a tax payment);
  `evaluate` decides on that day (a day within 1e-9 of a band edge is handed to it too).
- Turnover: value sold per year as a fraction of the mean value (one-way). Metrics start from
  the value at the first close (after the initial purchase's costs).
- The variants are independent portfolios stepped together: each iteration moves every
  variant to its own next event, so the Python loop runs as many times as the busiest variant
  has events, whatever the number of variants. A long calendar backtest of a few variants is
  also split in time (see `_simulate_in_chunks`).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from portfolios.analytics import metrics
from rebalancing.engine import drift, policy, trades

FREE = trades.CostModel(commission=0.0, slippage_bps=0.0, short_term_rate=0.0, long_term_rate=0.0)
WINDOW = 64  # trading days looked ahead at first; doubles while nothing fires
MAX_CELLS = 2_000_000  # numbers per lookahead step (days x variants x securities)
NEVER = np.iinfo(np.int64).max
RULES = ("", "initial", "threshold", "calendar", "cash_flow", "harvest", "tax")


@dataclass(frozen=True)
class TradeLog:
    """Every trade of every variant [N], each variant's in date order (sells before buys on a
    day; variants interleaved): variant, day (index into `dates`), security (index
    into `securities`), side (+1 buy, -1 sell), quantity (shares), price, amount (currency,
    > 0), cost, rule ("threshold", "calendar", "cash_flow", "initial", "harvest", "tax"),
    realised short/long-term gain (sells in the tax-aware mode, else 0)."""

    variant: np.ndarray
    day: np.ndarray
    security: np.ndarray
    side: np.ndarray
    quantity: np.ndarray
    price: np.ndarray
    amount: np.ndarray
    cost: np.ndarray
    rule: np.ndarray
    short_term_gain: np.ndarray
    long_term_gain: np.ndarray

    def frame(self, dates: np.ndarray, securities: Sequence[str]) -> pd.DataFrame:
        """The log as a table with dates and security names."""
        return pd.DataFrame(
            {
                "variant": self.variant,
                "date": np.asarray(dates)[self.day],
                "security": np.asarray(securities, dtype=object)[self.security],
                "side": np.where(self.side > 0, "buy", "sell"),
                "quantity": self.quantity,
                "price": self.price,
                "amount": self.amount,
                "cost": self.cost,
                "rule": self.rule,
                "short_term_gain": self.short_term_gain,
                "long_term_gain": self.long_term_gain,
            }
        )


@dataclass(frozen=True)
class Result:
    """A backtest of V variants over T days.

    dates [T] datetime64[D]; securities [S] the price columns used; classes [K];
    security_class [S] index into classes; value [T, V] total value (holdings + cash) at each
    close after that day's trades; cash [T, V]; buy_and_hold [T, V] the day-0 holdings of each
    variant kept unchanged; trades (TradeLog); costs [V] paid in total; turnover [V] (see the
    module docstring); summary: metrics of `value` against `buy_and_hold` (tracking difference
    = CAGR(variant) - CAGR(its buy-and-hold)); holdings: shares after each event
    (`holding_day` [E], `holding_variant` [E], `holding_shares` [E, S]), from which `weights`
    rebuilds any variant's daily weights; tax: the tax-aware results, or None.
    """

    dates: np.ndarray
    securities: tuple[str, ...]
    classes: tuple[str, ...]
    security_class: np.ndarray
    value: np.ndarray
    cash: np.ndarray
    buy_and_hold: np.ndarray
    trades: TradeLog
    costs: np.ndarray
    turnover: np.ndarray
    summary: metrics.Summary
    holding_day: np.ndarray
    holding_variant: np.ndarray
    holding_shares: np.ndarray
    prices: np.ndarray = field(repr=False)
    tax: object | None = None

    def shares(self, variant: int) -> np.ndarray:
        """Shares held at each close [T, S] by one variant (after the day's trades)."""
        rows = np.flatnonzero(self.holding_variant == variant)
        days = self.holding_day[rows]
        index = np.searchsorted(days, np.arange(len(self.dates)), side="right") - 1
        return self.holding_shares[rows][index]

    def weights(self, variant: int) -> pd.DataFrame:
        """Daily class weights of one variant as fractions of its total value (cash included,
        so the columns and `cash` add up to 1), index dates, one column per class."""
        values = self.shares(variant) * self.prices
        onehot = np.zeros((len(self.securities), len(self.classes)))
        onehot[np.arange(len(self.securities)), self.security_class] = 1.0
        total = self.value[:, variant][:, None]
        frame = pd.DataFrame(
            (values @ onehot) / total, index=pd.DatetimeIndex(self.dates), columns=self.classes
        )
        frame["cash"] = self.cash[:, variant] / self.value[:, variant]
        return frame


def policy_grid(**choices: Sequence[object]) -> policy.Policies:
    """Every combination of the given policy fields (the cartesian product, in order; fields
    not named keep the `Policies.uniform` defaults). Example: bands 1% to 10% under three
    calendars: policy_grid(absolute_band=np.arange(1, 11) / 100, frequency=["none",
    "monthly", "annual"]) gives 30 variants."""
    names = list(choices)
    combos = list(itertools.product(*(list(choices[n]) for n in names)))
    columns = {n: [c[i] for c in combos] for i, n in enumerate(names)}
    base = policy.Policies.uniform(len(combos))
    arrays = {}
    for name, values in columns.items():
        current = getattr(base, name)
        arrays[name] = np.array(values, dtype=current.dtype)
    return replace(base, **arrays)


@dataclass
class _Market:
    """The validated inputs, as arrays."""

    dates: np.ndarray  # [T] datetime64[D]
    prices: np.ndarray  # [T, S]
    securities: tuple[str, ...]
    classes: tuple[str, ...]
    security_class: np.ndarray  # [S]
    target: np.ndarray  # [K]
    vehicle: np.ndarray  # [K] index of the security bought for each class
    flows: np.ndarray  # [T] currency, + contribution, - withdrawal
    vol_scale: np.ndarray | None  # [T, K] or None

    @property
    def onehot(self) -> np.ndarray:
        """[S, K] security s belongs to class k."""
        onehot = np.zeros((len(self.securities), len(self.classes)))
        onehot[np.arange(len(self.securities)), self.security_class] = 1.0
        return onehot

    @property
    def one_per_class(self) -> bool:
        return len(self.securities) == len(self.classes)


def _validate(
    prices: pd.DataFrame,
    target: pd.Series,
    policies: policy.Policies,
    *,
    asset_class: Mapping[str, str] | pd.Series | None,
    extra: Sequence[str],
    start: dt.date | str | None,
    end: dt.date | str | None,
    flows: pd.Series | None,
    initial: float,
) -> _Market:
    if not isinstance(prices.index, pd.DatetimeIndex):
        prices = prices.copy()
        prices.index = pd.DatetimeIndex(prices.index)
    prices = prices.sort_index()
    target = pd.Series(target, dtype=float)
    target = target[target > 0]
    if target.empty:
        raise ValueError("The target has no positive weight.")
    missing = [s for s in list(target.index) + list(extra) if s not in prices.columns]
    if missing:
        raise ValueError(f"No prices at all for {', '.join(map(str, missing))}.")
    window = prices.loc[
        slice(pd.Timestamp(start) if start else None, pd.Timestamp(end) if end else None)
    ]
    columns = list(target.index) + [s for s in extra if s not in target.index]
    window = window[columns]
    values = window.to_numpy(dtype=float)
    has = ~np.isnan(values)
    rows = has.any(axis=1)
    if not rows.all():  # days on which none of these securities traded
        window, values, has = window[rows], values[rows], has[rows]
    if len(window) < 2:
        raise ValueError(
            f"No price data between {start or 'the beginning'} and {end or 'the end'}: "
            "a backtest needs at least two trading days."
        )
    for j in np.flatnonzero(~has.all(axis=0)):
        column = columns[j]
        if not has[:, j].any():
            raise ValueError(f"{column} has no prices between {start} and {end}.")
        first = window.index[int(np.argmax(has[:, j]))]
        raise ValueError(
            f"{column} has no price on some days of the window (first price "
            f"{first:%Y-%m-%d}); start the backtest on or after its first price."
        )
    if (values <= 0).any():
        raise ValueError("Prices must be positive.")
    for name in ("absolute_band", "relative_band"):
        band = getattr(policies, name)
        bad = ~np.isnan(band) & ((band <= 0) | (band >= 1))
        if bad.any():
            raise ValueError(
                f"{name} must be above 0% and below 100% (got {band[bad][0]:.2%}); "
                "leave it unset for no band."
            )
    if not initial > 0:
        raise ValueError("The initial investment must be positive.")
    classes_of = (
        {s: str(s) for s in columns}
        if asset_class is None
        else {s: str(pd.Series(asset_class).get(s, s)) for s in columns}
    )
    classes = tuple(dict.fromkeys(classes_of[s] for s in target.index))
    if len(classes) != len(target):
        raise ValueError(
            "Each asset class is bought through one security: two targets share a class."
        )
    for s in extra:
        if classes_of[s] not in classes:
            raise ValueError(f"{s} is in no target class.")
    security_class = np.array([classes.index(classes_of[s]) for s in columns])
    dates = window.index.to_numpy(dtype="datetime64[D]")
    flow = np.zeros(len(dates))
    if flows is not None and len(flows):
        series = pd.Series(flows, dtype=float)
        series.index = pd.DatetimeIndex(series.index)
        # A flow on a non-trading day happens on the next trading day.
        position = np.searchsorted(dates, series.index.to_numpy(dtype="datetime64[D]"))
        inside = position < len(dates)
        np.add.at(flow, position[inside], series.to_numpy()[inside])
    vol = None
    if policies.volatility_adjusted.any():
        history = prices[list(target.index)].loc[: window.index[-1]]
        ratio = policy.volatility_scale_history(history)
        vol = ratio.reindex(window.index).to_numpy(dtype=float)
    return _Market(
        dates=dates,
        prices=values,
        securities=tuple(str(c) for c in columns),
        classes=classes,
        security_class=security_class,
        target=drift.normalise_targets(target.to_numpy()[None, :])[0],
        vehicle=np.arange(len(target)),
        flows=flow,
        vol_scale=vol,
    )


def _policy_rows(
    policies: policy.Policies, rows: np.ndarray, **override: np.ndarray
) -> policy.Policies:
    return replace(
        policies,
        **{
            f: getattr(policies, f)[rows]
            for f in policies.__dataclass_fields__
            if f not in override
        },
        **override,
    )


class _Schedule:
    """Calendar dates and flow days, looked up per variant."""

    def __init__(self, market: _Market, policies: policy.Policies, extra_days: np.ndarray) -> None:
        pairs = list(
            dict.fromkeys(
                zip(policies.frequency.tolist(), policies.calendar_day.tolist(), strict=True)
            )
        )
        self.pair_of = np.array(
            [
                pairs.index(p)
                for p in zip(
                    policies.frequency.tolist(), policies.calendar_day.tolist(), strict=True
                )
            ]
        )
        self.scheduled = np.stack(
            [policy.scheduled_dates(str(f), int(d), market.dates) for f, d in pairs]
        )  # [pairs, T] datetime64[D]
        self.as_int = self.scheduled.astype(np.int64)  # NaT sorts first
        days = np.flatnonzero(market.flows != 0)
        self.fixed_days = np.union1d(days, extra_days).astype(np.int64)

    def next_day(self, variants: np.ndarray, after: np.ndarray, last: np.ndarray) -> np.ndarray:
        """First day index > `after` on which a calendar date or a flow falls due."""
        out = np.full(len(variants), NEVER)
        last_int = last.astype("datetime64[D]").astype(np.int64)
        for pair in np.unique(self.pair_of[variants]):
            rows = self.pair_of[variants] == pair
            found = np.searchsorted(self.as_int[pair], last_int[rows], side="right")
            found = np.maximum(found, after[rows] + 1)
            out[rows] = np.where(found < self.as_int.shape[1], found, NEVER)
        if len(self.fixed_days) == 0:
            return out
        position = np.searchsorted(self.fixed_days, after, side="right")
        padded = np.append(self.fixed_days, NEVER)
        fixed = padded[position]
        return np.minimum(out, fixed)

    def dates_for(self, variants: np.ndarray, days: np.ndarray) -> np.ndarray:
        return self.scheduled[self.pair_of[variants], days]


@dataclass
class _State:
    """Holdings of the V variants: shares [V, S] and cash [V]."""

    shares: np.ndarray
    cash: np.ndarray
    last_calendar: np.ndarray
    position: np.ndarray  # [V] day of the last event (its trades are in `shares`)


class _Recorder:
    def __init__(self, n_days: int, n_variants: int, column: np.ndarray | None = None) -> None:
        # `column` maps each simulated row to its output column (chunks of one variant share
        # a column: their days do not overlap).
        self.column = np.arange(n_variants) if column is None else column
        n_columns = int(self.column.max()) + 1 if len(self.column) else 0
        self.value = np.full((n_days, n_columns), np.nan)
        self.cash = np.full((n_days, n_columns), np.nan)
        self.trades: list[dict[str, np.ndarray]] = []
        self.holdings: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        # Stepped variant by variant, each variant's trades come in date order already; the
        # chunks of a split backtest do not, and are sorted.
        self.sort = False

    def record(
        self, days: np.ndarray, rows: np.ndarray, value: np.ndarray, cash: np.ndarray
    ) -> None:
        """Value and cash at the close of `days` for the simulated `rows`."""
        self.value[days, self.column[rows]] = value
        self.cash[days, self.column[rows]] = cash

    def forget(self, variants: np.ndarray) -> None:
        """Drop the trades and holdings recorded for `variants` (they are run again)."""
        self.trades = [
            {k: v[keep] for k, v in t.items()}
            for t in self.trades
            if (keep := ~np.isin(t["variant"], variants)).any()
        ]
        self.holdings = [
            (d[keep], v[keep], s[keep])
            for d, v, s in self.holdings
            if (keep := ~np.isin(v, variants)).any()
        ]

    def add_trades(self, **columns: np.ndarray) -> None:
        """Trade rows; `rule` as names or as codes (indices into RULES)."""
        if len(columns["variant"]):
            rule = columns["rule"]
            if rule.dtype.kind in "OUS":
                names, codes = np.unique(rule.astype(str), return_inverse=True)
                lookup = np.array([RULES.index(n) for n in names.tolist()], dtype=np.int8)
                rule = lookup[codes.reshape(-1)]
            self.trades.append({**columns, "rule": rule})

    def log(self) -> TradeLog:
        names = [f.name for f in TradeLog.__dataclass_fields__.values()]
        if not self.trades:
            empty = {n: np.zeros(0) for n in names}
            empty["rule"] = np.zeros(0, dtype=object)
            for n in ("variant", "day", "security", "side"):
                empty[n] = np.zeros(0, dtype=np.int64)
            return TradeLog(**empty)
        columns = {n: np.concatenate([t[n] for t in self.trades]) for n in names}
        if self.sort:
            # by variant and day; within a day sells stay before buys (a stable sort)
            key = columns["variant"].astype(np.int64) * (int(columns["day"].max()) + 1)
            order = np.argsort(key + columns["day"], kind="stable")
            columns = {n: v[order] for n, v in columns.items()}
        columns["rule"] = np.array(RULES, dtype=object)[columns["rule"]]
        return TradeLog(**columns)


def rule_codes(decision: policy.Decision, initial: bool) -> np.ndarray:
    """The reported rule of each portfolio as an index into RULES (evaluate's precedence)."""
    code = np.where(
        decision.threshold,
        RULES.index("threshold"),
        np.where(
            decision.calendar,
            RULES.index("calendar"),
            np.where(decision.cash_flow, RULES.index("cash_flow"), 0),
        ),
    )
    return (
        np.full(len(code), RULES.index("initial"), dtype=np.int8)
        if initial
        else code.astype(np.int8)
    )


def _book(
    market: _Market, variants: np.ndarray, values: np.ndarray, cash: np.ndarray
) -> drift.Book:
    """The drift check's book for the variants, valued in money units (price 1 per unit, units
    = market value): each variant stands on its own day, so prices cannot be shared."""
    n_s, n_k = len(market.securities), len(market.classes)
    return drift.Book(
        portfolio_ids=variants,
        classes=market.classes,
        security_ids=np.arange(n_s),
        security_class=market.security_class,
        prices=np.ones(n_s),
        fractional=np.ones(n_s, dtype=bool),
        quantity=values,
        cash=cash,
        target=np.broadcast_to(market.target, (len(variants), n_k)),
        target_security=np.broadcast_to(market.vehicle, (len(variants), n_k)),
    )


MARGIN = 1e-9  # weight units: a day this close to a band edge is handed to evaluate to decide


def _ragged(start: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cells of segments [start, start + length): (segment of each cell, its value)."""
    segment = np.repeat(np.arange(len(start)), length)
    offsets = np.cumsum(length) - length
    return segment, start[segment] + np.arange(int(length.sum())) - offsets[segment]


def _scan(
    market: _Market,
    policies: policy.Policies,
    width: np.ndarray,
    state: _State,
    variants: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    recorder: _Recorder,
    extra_fire: object | None = None,
) -> np.ndarray:
    """First day in [start, stop) per variant on which the band or cash rule fires on the
    unchanged holdings (`stop` where none); records value and cash of the quiet days before.

    Variants holding the same mix (shares in the same proportions: after a full rebalance on
    the same day, whatever the band) drift the same way, so each mix is valued once per day
    ahead and its `policy.breach_levels` are compared with every variant's bands; a day within
    MARGIN of a band edge counts as firing and `evaluate` decides on it."""
    if len(variants) == 1 and extra_fire is None:
        v = variants[0]
        if not np.isfinite(width[v]).any() and not policies.cash_flow[v]:
            # nothing can fire before the next scheduled day: only the values to record
            days = np.arange(start[0], stop[0])
            total = market.prices[days] @ state.shares[v] + state.cash[v]
            recorder.record(days, np.full(len(days), v), total, np.full(len(days), state.cash[v]))
            return stop.copy()
    shares = state.shares[variants]
    held = shares.sum(axis=1)
    mix = np.divide(shares, held[:, None], out=np.zeros_like(shares), where=held[:, None] > 0)
    if len(variants) == 1:
        first_of, group = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    else:
        # one number per mix (a fixed random projection of the rounded mix) to group by
        key = np.round(mix, 14) @ np.random.default_rng(0).random(mix.shape[1])
        _, first_of, group = np.unique(key, return_index=True, return_inverse=True)
        if np.abs(mix - mix[first_of][group]).max(initial=0.0) > 1e-12:  # a key collision
            first_of, group = np.arange(len(variants)), np.arange(len(variants))
    scale = held  # shares of a variant = held x its mix
    n_g = len(first_of)
    g_start = np.full(n_g, np.iinfo(np.int64).max)
    np.minimum.at(g_start, group, start)
    g_stop = np.zeros(n_g, dtype=np.int64)
    np.maximum.at(g_stop, group, stop)
    g_length = np.maximum(g_stop - g_start, 0)
    # One value per (mix, day ahead): class values, invested, breach levels.
    cell_group, cell_day = _ragged(g_start, g_length)
    values = market.prices[cell_day] * mix[first_of][cell_group]
    class_values = values if market.one_per_class else values @ market.onehot
    invested = class_values.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        drift_ = (
            np.where(invested[:, None] > 0, class_values / invested[:, None], 0.0) - market.target
        )
    rows = _policy_rows(policies, variants)
    banded = np.isfinite(width[variants]).any(axis=1)
    relative = bool(np.isfinite(rows.relative_band[banded]).any())
    if banded.any():
        level_a, level_r = policy.breach_levels(
            class_values, drift_, invested, market.target, relative=relative
        )
    vol_scale = market.vol_scale
    adjusted = banded & rows.volatility_adjusted if vol_scale is not None else banded & False
    if vol_scale is not None and adjusted.any():
        adj_a, adj_r = policy.breach_levels(
            class_values,
            drift_,
            invested,
            market.target,
            vol_scale[cell_day],
            relative=relative,
        )
    # Each variant's own days: a slice of its mix's cells.
    length = stop - start
    if len(variants) == 1:  # its days are its mix's cells
        row, day, cell = np.zeros(len(cell_day), dtype=np.int64), cell_day, np.arange(len(cell_day))
    else:
        row, day = _ragged(start, length)
        cell = (np.cumsum(g_length) - g_length)[group[row]] + day - g_start[group[row]]
    total = scale[row] * invested[cell] + state.cash[variants][row]
    fire = np.zeros(len(row), dtype=bool)
    if banded.any():
        la = level_a[cell]
        if adjusted.any():
            la = np.where(adjusted[row], adj_a[cell], la)
        breach = rows.absolute_band[row] - MARGIN < la
        if relative:
            lr = level_r[cell]
            if adjusted.any():
                lr = np.where(adjusted[row], adj_r[cell], lr)
            breach |= rows.relative_band[row] - MARGIN < lr
        fire |= banded[row] & breach
    if rows.cash_flow.any():
        cells = _policy_rows(rows, row)
        zero = np.zeros(1)
        excess = policy.excess_cash(state.cash[variants][row], total, cells, zero)
        fire |= policy.cash_flow_fires(excess, cells, zero)
    if extra_fire is not None:
        fire |= extra_fire(day, variants[row])  # type: ignore[operator]
    fire &= total > 0
    candidate = np.where(fire, day, np.iinfo(np.int64).max)
    first = stop.copy()
    some = length > 0
    if some.any():
        offsets = (np.cumsum(length) - length)[some]
        first[some] = np.minimum(np.minimum.reduceat(candidate, offsets), stop[some])
    quiet = day < first[row]
    recorder.record(
        day[quiet], variants[row[quiet]], total[quiet], state.cash[variants][row[quiet]]
    )
    return first


def position_trades(
    book: drift.Book,
    state: drift.Drift,
    decision: policy.Decision,
    policies: policy.Policies,
    costs: trades.CostModel,
    withdrawal: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The trades `trades.generate` makes for a book that holds each class through its target
    security only (fractional shares, no lot rule binding), built from the same functions.
    Returns sell and buy amounts [P, S] (currency), their costs [P, S] and cash after [P]
    (before the withdrawal leaves). A property test checks it against `trades.generate`."""
    delta = trades.class_trades(
        state.class_values, book.cash, book.target, decision, policies, costs, withdrawal
    )
    rows = np.arange(len(book.cash))[:, None]
    sell = np.zeros_like(state.security_values)
    sell[rows, book.target_security] = np.maximum(-delta, 0.0)
    proceeds = sell.sum(axis=1)
    buy_needed = np.maximum(delta, 0.0)
    budget = trades.buy_budget(
        book.cash,
        policies.cash_buffer * state.total,
        withdrawal,
        proceeds,
        (sell > 0).sum(axis=1) + (buy_needed > 0).sum(axis=1),
        decision.rebalance | decision.cash_flow,
        costs,
    )
    vehicle_price = book.prices[book.target_security]
    shares = trades.buy_shares(
        trades.waterfill(buy_needed, budget),
        vehicle_price,
        np.zeros_like(buy_needed, dtype=bool),
        np.maximum(policies.min_trade, 0.0),
    )
    buy = np.zeros_like(sell)
    buy[rows, book.target_security] = shares * vehicle_price
    cost = trades.trade_costs(sell, buy, costs)
    cash_after = book.cash + proceeds - buy.sum(axis=1) - cost.sum(axis=1)
    broke = cash_after < -1e-6  # as in generate: a portfolio that cannot pay trades nothing
    if broke.any():
        sell[broke] = buy[broke] = cost[broke] = 0.0
        cash_after = np.where(broke, book.cash, cash_after)
    return sell, buy, cost, cash_after


def _pretax_step(
    market: _Market,
    policies: policy.Policies,
    costs: trades.CostModel,
    state: _State,
    variants: np.ndarray,
    days: np.ndarray,
    schedule: _Schedule,
    recorder: _Recorder,
    initial: bool,
) -> None:
    """Evaluate and trade the variants on their event days (one position per class)."""
    prices = market.prices[days]  # [E, S]
    values = state.shares[variants] * prices
    flow = market.flows[days]
    cash = state.cash[variants] + np.maximum(flow, 0.0)
    withdrawal = np.maximum(-flow, 0.0)
    book = _book(market, variants, values, cash)
    book_drift = drift.compute(book)
    scheduled = schedule.dates_for(variants, days)
    rows = _policy_rows(
        policies,
        variants,
        last_calendar=np.where(initial, scheduled, state.last_calendar[variants]),
        cash_flow=policies.cash_flow[variants] | (withdrawal > 0) | initial,
    )
    decision = policy.evaluate(
        book,
        book_drift,
        rows,
        today=market.dates[days],
        scheduled=scheduled,
        vol_scale=None if market.vol_scale is None else market.vol_scale[days],
        withdrawal=withdrawal,
        explain=False,
    )
    costs_e = costs.take(np.zeros(len(variants), dtype=int), 1)
    sell, buy, cost, cash_after = position_trades(
        book, book_drift, decision, rows, costs_e, withdrawal
    )
    state.shares[variants] = (values - sell + buy) / prices
    # a withdrawal takes at most the cash there is (the policy raised what it could)
    state.cash[variants] = cash_after - np.minimum(withdrawal, np.maximum(cash_after, 0.0))
    state.last_calendar[variants] = np.where(
        decision.calendar | initial, scheduled, state.last_calendar[variants]
    )
    state.position[variants] = days
    total = (values - sell + buy).sum(axis=1) + state.cash[variants]
    recorder.record(days, variants, total, state.cash[variants])
    rule = rule_codes(decision, initial)
    for amounts, side in ((sell, trades.SELL), (buy, trades.BUY)):
        e, s = np.nonzero(amounts > 0)
        recorder.add_trades(
            variant=variants[e],
            day=days[e],
            security=s,
            side=np.full(len(e), side),
            quantity=amounts[e, s] / prices[e, s],
            price=prices[e, s],
            amount=amounts[e, s],
            cost=cost[e, s],
            rule=rule[e],
            short_term_gain=np.zeros(len(e)),
            long_term_gain=np.zeros(len(e)),
        )
    traded = (sell > 0).any(axis=1) | (buy > 0).any(axis=1) | (withdrawal > 0) | (flow > 0)
    if traded.any() or initial:
        keep = np.flatnonzero(traded | initial)
        recorder.holdings.append((days[keep], variants[keep], state.shares[variants[keep]].copy()))


def run(
    prices: pd.DataFrame,
    target: pd.Series | Mapping[str, float],
    policies: policy.Policies,
    *,
    asset_class: Mapping[str, str] | pd.Series | None = None,
    start: dt.date | str | None = None,
    end: dt.date | str | None = None,
    initial: float = 1_000_000.0,
    costs: trades.CostModel = FREE,
    flows: pd.Series | None = None,
    risk_free: float = 0.0,
    convention: metrics.Convention = "calendar",
) -> Result:
    """Backtest V policy variants in one call, before tax (`backtest_tax.run` is the tax-aware
    mode: the same arguments plus `tax`).

    prices: daily closes, index dates, one column per security (adjusted closes for total
    return). target: weight per security (fractions, normalised to sum 1); each is the one
    security held for its class. asset_class: class code per security (default: each security
    is its own class). policies: the variants (`policy.Policies`, e.g. from `policy_grid`);
    `last_calendar` is ignored. start, end: the window (inclusive; default: all rows).
    initial: money invested on the first day. costs: the engine's cost model (commission per
    trade, slippage bps; its tax rates are used by the tax-aware mode and `max_tax_cost`).
    flows: money added (+) or withdrawn (-) on dates (a non-trading date counts on the next
    trading day). risk_free (annual)
    and convention (CAGR: "calendar" or "trading") are passed to the metrics.

    Raises ValueError for a window without data, a target security without prices in it, and
    a band of 0 or 100% or more.
    """
    market = _validate(
        prices, pd.Series(target), policies, asset_class=asset_class, extra=(), start=start,
        end=end, flows=flows, initial=initial,
    )  # fmt: skip
    return simulate(
        market,
        policies,
        costs,
        initial=initial,
        step=_pretax_step,
        risk_free=risk_free,
        convention=convention,
    )


def simulate(
    market: _Market,
    policies: policy.Policies,
    costs: trades.CostModel,
    *,
    initial: float,
    step: object,
    risk_free: float,
    convention: metrics.Convention,
    extra_days: np.ndarray | None = None,
    extra_fire: object | None = None,
    finish: object | None = None,
) -> Result:
    """The event loop shared by both modes: `step` trades the variants on their event days."""
    if finish is None and extra_fire is None and extra_days is None:
        chunked = _simulate_in_chunks(market, policies, costs, initial=initial, step=step)
        if chunked is not None:
            state, recorder = chunked
            return _result(market, policies, state, recorder, initial, risk_free, convention, None)
    n_t, n_s = market.prices.shape
    n_v = len(policies.frequency)
    schedule = _Schedule(market, policies, np.zeros(0) if extra_days is None else extra_days)
    recorder = _Recorder(n_t, n_v)
    state = _State(
        shares=np.zeros((n_v, n_s)),
        cash=np.full(n_v, float(initial)),
        last_calendar=np.full(n_v, np.datetime64("NaT"), dtype="datetime64[D]"),
        position=np.zeros(n_v, dtype=np.int64),
    )
    everyone = np.arange(n_v)
    _invest(market, policies, costs, state, everyone, schedule, recorder, step)
    _advance(
        market, policies, costs, state, schedule, recorder, step, everyone,
        np.ones(n_v, dtype=np.int64), np.full(n_v, n_t, dtype=np.int64), extra_fire,
    )  # fmt: skip
    tax_result = finish(state, recorder) if finish is not None else None  # type: ignore[operator]
    return _result(market, policies, state, recorder, initial, risk_free, convention, tax_result)


def _invest(
    market: _Market,
    policies: policy.Policies,
    costs: trades.CostModel,
    state: _State,
    variants: np.ndarray,
    schedule: _Schedule,
    recorder: _Recorder,
    step: object,
) -> None:
    """Day 0: the initial investment (with the first day's flow) as a cash flow."""
    flow0 = market.flows[0]
    market.flows[0] = 0.0
    state.cash[variants] += flow0
    try:
        step(
            market, policies, costs, state, variants, np.zeros(len(variants), dtype=np.int64),
            schedule, recorder, True,
        )  # type: ignore[operator]  # fmt: skip
    finally:
        market.flows[0] = flow0


def _advance(
    market: _Market,
    policies: policy.Policies,
    costs: trades.CostModel,
    state: _State,
    schedule: _Schedule,
    recorder: _Recorder,
    step: object,
    variants: np.ndarray,
    scan_from: np.ndarray,
    end: np.ndarray,
    extra_fire: object | None,
) -> None:
    """Step `variants` (rows of the policies) from day `scan_from` up to (not including) `end`,
    each to its own next event (arrays [P] over all rows; only `variants` move)."""
    n_t, n_s = market.prices.shape
    scan_from, end = scan_from.copy(), end
    width = policy.bands(
        np.broadcast_to(market.target, (len(policies.frequency), len(market.classes))), policies
    )
    # Variants without a band or a cash rule cannot fire between scheduled days: no lookahead.
    watched = np.isfinite(width).any(axis=1) | policies.cash_flow | (extra_fire is not None)
    if market.vol_scale is not None:
        watched |= policies.volatility_adjusted
    window = np.where(watched, WINDOW, n_t).astype(np.int64)
    active = variants[scan_from[variants] < end[variants]]
    while len(active):
        scheduled = schedule.next_day(active, state.position[active], state.last_calendar[active])
        # Bound the lookahead so one step never holds more than ~MAX_CELLS numbers.
        ahead = np.minimum(window[active], max(MAX_CELLS // (len(active) * n_s), 8))
        stop = np.minimum(np.minimum(scan_from[active] + ahead, end[active]), scheduled)
        first = _scan(
            market, policies, width, state, active, scan_from[active], stop, recorder, extra_fire
        )
        event = (first < stop) | ((first == scheduled) & (scheduled < end[active]))
        if event.any():
            movers = active[event]
            gap = first[event] - state.position[movers]
            step(market, policies, costs, state, movers, first[event], schedule, recorder, False)  # type: ignore[operator]
            scan_from[movers] = first[event] + 1
            window[movers] = np.where(watched[movers], np.clip(2 * gap, 16, 4096), n_t)
        quiet = active[~event]
        scan_from[quiet] = stop[~event]
        window[quiet] = np.where(watched[quiet], np.minimum(window[quiet] * 2, 4096), n_t)
        active = active[scan_from[active] < end[active]]


CHUNK_EVENTS = 2  # calendar dates per chunk when a backtest is split in time
MAX_SWEEPS = 8
MAX_CHUNKS = 400
CONSISTENT = 1e-13  # relative difference at which a chunk's start equals the previous end


def _simulate_in_chunks(
    market: _Market,
    policies: policy.Policies,
    costs: trades.CostModel,
    *,
    initial: float,
    step: object,
) -> tuple[_State, _Recorder] | None:
    """The same backtest split in time, for the few variants of a long calendar backtest.

    The Python loop runs once per event of the busiest variant; a monthly policy over 25 years
    has 300. Split into C chunks that start from guessed holdings, the chunks run side by side
    as extra variants (300 / C steps). A chunk's start is then compared with the end of the
    chunk before it; those that differ run again from that end, until every start equals the
    end before it (to CONSISTENT, relative), and the chunks are scaled to one another. This is
    exact because such a policy decides the same on holdings scaled by any factor: it is used
    only when nothing is in currency units (no commission, no minimum trade, no flows, no
    cash rule) and every rebalance is a full one, which forgets the holdings it started from
    but for the scale and a little cash, so two or three sweeps agree. None when not
    applicable or not agreed after MAX_SWEEPS (the caller then runs day after day).
    """
    n_t, n_s = market.prices.shape
    n_v = len(policies.frequency)
    scale_free = (
        costs.commission == 0
        and not (policies.min_trade > 0).any()
        and not policies.cash_flow.any()
        and not (market.flows != 0).any()
        and policies.full.all()
    )
    calendars = np.array(
        [policy.FREQUENCY_MONTHS.get(str(f)) is not None for f in policies.frequency]
    )
    if not scale_free or not calendars.all() or n_v > 8:
        return None
    events = min(
        len(np.unique(policy.scheduled_dates(str(f), int(d), market.dates)))
        for f, d in zip(policies.frequency, policies.calendar_day, strict=True)
    )
    n_c = min(events // CHUNK_EVENTS, MAX_CHUNKS)
    if n_c < 4:
        return None
    bounds = np.linspace(0, n_t, n_c + 1).astype(np.int64)
    rows = np.tile(np.arange(n_v), n_c)  # pseudo-variant c * V + v runs chunk c of variant v
    chunk = np.repeat(np.arange(n_c), n_v)
    tiled = _policy_rows(policies, rows)
    schedule = _Schedule(market, tiled, np.zeros(0))
    recorder = _Recorder(n_t, n_c * n_v, column=rows)
    n_p = n_c * n_v
    state = _State(
        shares=np.zeros((n_p, n_s)),
        cash=np.zeros(n_p),
        last_calendar=np.full(n_p, np.datetime64("NaT"), dtype="datetime64[D]"),
        position=np.zeros(n_p, dtype=np.int64),
    )
    first_chunk = np.arange(n_v)
    state.cash[first_chunk] = float(initial)
    _invest(market, tiled, costs, state, first_chunk, schedule, recorder, step)
    later = np.arange(n_v, n_p)
    before = bounds[chunk[later]] - 1  # the day whose close a later chunk starts from
    guess = np.zeros((len(later), n_s))
    guess[:, market.vehicle] = (
        market.target * float(initial) / market.prices[before][:, market.vehicle]
    )
    start_shares, start_cash = guess, np.zeros(len(later))
    start_last = schedule.dates_for(later, before)
    scan_from = np.concatenate((np.ones(n_v, dtype=np.int64), bounds[chunk[later]]))
    end = bounds[chunk + 1]
    run = np.arange(n_p)
    for sweep in range(MAX_SWEEPS):
        redo = run[run >= n_v] - n_v
        state.shares[later[redo]] = start_shares[redo]
        state.cash[later[redo]] = start_cash[redo]
        state.last_calendar[later[redo]] = start_last[redo]
        state.position[later[redo]] = before[redo]
        if sweep:
            recorder.forget(run)
        _advance(market, tiled, costs, state, schedule, recorder, step, run, scan_from, end, None)
        # Compare each later chunk's start with the end of the chunk before it.
        previous = later - n_v
        prices = market.prices[before]
        end_value = (state.shares[previous] * prices).sum(axis=1) + state.cash[previous]
        start_value = (start_shares * prices).sum(axis=1) + start_cash
        end_mix = (
            np.column_stack((state.shares[previous] * prices, state.cash[previous]))
            / end_value[:, None]
        )
        start_mix = np.column_stack((start_shares * prices, start_cash)) / start_value[:, None]
        differs = (np.abs(end_mix - start_mix) > CONSISTENT).any(axis=1) | (
            state.last_calendar[previous].astype(np.int64) != start_last.astype(np.int64)
        )
        if not differs.any():
            return _stitch(market, n_v, n_c, bounds, state, recorder, end_value / start_value)
        start_shares = np.where(differs[:, None], state.shares[previous], start_shares)
        start_cash = np.where(differs, state.cash[previous], start_cash)
        start_last = np.where(differs, state.last_calendar[previous], start_last)
        run = later[differs]
    return None


def _stitch(
    market: _Market,
    n_v: int,
    n_c: int,
    bounds: np.ndarray,
    state: _State,
    recorder: _Recorder,
    ratio: np.ndarray,
) -> tuple[_State, _Recorder]:
    """One recorder for the V variants from the chunks' (chunk c scaled by the product of the
    end / start value ratios before it)."""
    n_t = len(market.dates)
    factor = np.ones(n_c * n_v)
    factor[n_v:] = np.cumprod(ratio.reshape(n_c - 1, n_v), axis=0).reshape(-1)
    out = _Recorder(n_t, n_v)
    out.sort = True
    day_chunk = np.searchsorted(bounds, np.arange(n_t), side="right") - 1
    column = day_chunk[:, None] * n_v + np.arange(n_v)[None, :]
    out.value = recorder.value * factor[column]
    out.cash = recorder.cash * factor[column]
    for columns in recorder.trades:
        f = factor[columns["variant"]]
        out.trades.append(
            {
                **columns,
                "variant": columns["variant"] % n_v,
                "quantity": columns["quantity"] * f,
                "amount": columns["amount"] * f,
                "cost": columns["cost"] * f,
            }
        )
    for days, variants, shares in recorder.holdings:
        out.holdings.append((days, variants % n_v, shares * factor[variants][:, None]))
    last = np.arange((n_c - 1) * n_v, n_c * n_v)
    final = _State(
        shares=state.shares[last] * factor[last][:, None],
        cash=state.cash[last] * factor[last],
        last_calendar=state.last_calendar[last],
        position=state.position[last],
    )
    return final, out


def _result(
    market: _Market,
    policies: policy.Policies,
    state: _State,
    recorder: _Recorder,
    initial: float,
    risk_free: float,
    convention: metrics.Convention,
    tax_result: object | None,
) -> Result:
    log = recorder.log()
    n_t = len(market.dates)
    n_v = recorder.value.shape[1]
    day0 = recorder.holdings[0]
    shares0 = np.zeros((n_v, len(market.securities)))
    shares0[day0[1]] = day0[2]
    cash0 = recorder.cash[0]
    buy_and_hold = market.prices @ shares0.T + cash0[None, :]
    costs = np.bincount(log.variant, weights=log.cost, minlength=n_v)
    sold = np.bincount(log.variant, weights=np.where(log.side < 0, log.amount, 0.0), minlength=n_v)
    years = metrics.years(market.dates, n_t - 1)
    turnover = sold / recorder.value.mean(axis=0) / years
    days = np.concatenate([h[0] for h in recorder.holdings])
    variants = np.concatenate([h[1] for h in recorder.holdings])
    shares = np.concatenate([h[2] for h in recorder.holdings])
    order = np.lexsort((days, variants))
    summary = metrics.summarise(
        recorder.value,
        market.dates,
        benchmark=buy_and_hold,
        risk_free=risk_free,
        convention=convention,
    )
    return Result(
        dates=market.dates,
        securities=market.securities,
        classes=market.classes,
        security_class=market.security_class,
        value=recorder.value,
        cash=recorder.cash,
        buy_and_hold=buy_and_hold,
        trades=log,
        costs=costs,
        turnover=turnover,
        summary=summary,
        holding_day=days[order],
        holding_variant=variants[order],
        holding_shares=shares[order],
        prices=market.prices,
        tax=tax_result,
    )
