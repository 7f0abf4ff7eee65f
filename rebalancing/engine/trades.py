"""Trade generation: the buys and sells that carry out each portfolio's fired rule.

Vectorised over P portfolios (no Python loop over portfolios). Units: money in the account
currency (float64), quantities in shares, weights as fractions of invested value, costs as
currency (commission per trade) plus basis points of the traded amount (spread + slippage).

Method, per portfolio that trades:
1. Investable value after the trades: I* = total x (1 - cash_buffer) - withdrawal - costs
   (costs estimated, then the whole computation repeated once with them deducted).
2. Desired class values: full rebalance -> target x I*; band edge -> the smallest move
   (Euclidean projection of the current weights onto {target - band <= w <= target + band,
   sum w = 1}) so every class ends inside its band; a cash flow only -> deploy the excess cash
   to the most underweight classes (or raise a withdrawal from the most overweight) by
   water-filling, with no sells (no buys). Class trades below the minimum trade are dropped.
3. Sells take lots in tax order inside each (portfolio, class): losses first (largest loss per
   share first), then long-term gains, then short-term gains, each by smallest gain per share
   (highest basis) first; or, where the investor chose it (`CostModel.relief`), oldest lot
   first (FIFO) or highest cost per share first (HIFO). Never sold: a loss lot whose (household, security) is blocked by a
   recent purchase (wash sale), a short-term gain lot unless allowed. When the estimated tax
   exceeds `max_tax_cost`, the most tax-expensive shares are held back until it fits.
4. Buys go to each class's target security and are paid from cash above the buffer plus the
   sale proceeds, net of costs; when that is not enough the most underweight classes are
   funded first (water-filling). Whole-share securities buy floor(shares), sell ceil(shares)
   of a partial lot (never more than held). Cash never goes negative and nothing goes short.
Value after = value before - estimated costs (everything is valued at the same prices).
"""

import datetime as dt
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from rebalancing.engine import tax
from rebalancing.engine.drift import Book, Drift, weights_of
from rebalancing.engine.lots import is_long_term
from rebalancing.engine.policy import Decision, Policies

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Rows = TypeVar("Rows", bound="DataclassInstance")

EPS = 1e-9
BUY, SELL = 1, -1


@dataclass(frozen=True)
class Lots:
    """L open lots of the book's portfolios.

    portfolio [L] index into the book's portfolios; security [L] index into its securities;
    lot_id [L] database id; quantity [L] shares (> 0); cost_basis [L] total currency;
    holding_start [L] datetime64[D]; household [L] owner id (wash-sale scope).
    """

    portfolio: np.ndarray
    security: np.ndarray
    lot_id: np.ndarray
    quantity: np.ndarray
    cost_basis: np.ndarray
    holding_start: np.ndarray
    household: np.ndarray

    @classmethod
    def empty(cls) -> "Lots":
        i, f = np.zeros(0, dtype=int), np.zeros(0)
        return cls(i, i, i, f, f, np.zeros(0, dtype="datetime64[D]"), i)


@dataclass(frozen=True)
class CostModel:
    """commission: currency per trade; slippage_bps: spread + slippage in basis points of the
    amount; short_term_rate / long_term_rate: tax rates (fractions) on realised gains, one for
    every portfolio or an array [P] (each investor's own rates). The estimated tax of a
    portfolio's sales is `tax.estimate_tax` (Schedule D netting) in a year where the investor
    already realised `realised_short_term` / `realised_long_term` (signed), with the losses
    carried in (`carry_short` / `carry_long` >= 0) and the deduction `loss_limit`; each a
    scalar or [P]."""

    commission: float = 0.0
    slippage_bps: float = 5.0
    short_term_rate: float | np.ndarray = 0.35
    long_term_rate: float | np.ndarray = 0.15
    realised_short_term: float | np.ndarray = 0.0
    realised_long_term: float | np.ndarray = 0.0
    carry_short: float | np.ndarray = 0.0
    carry_long: float | np.ndarray = 0.0
    loss_limit: float | np.ndarray = tax.LOSS_LIMIT
    # The investor's lot relief method (`lots.RELIEF_CODES`): 0 tax order (step 3), 1 oldest
    # holding start first, 2 highest cost per share first; a scalar or [P].
    relief: int | np.ndarray = 0

    def rates(self, n_p: int) -> tuple[np.ndarray, np.ndarray]:
        """(short-term, long-term) rate per portfolio, [P] each."""
        return (
            np.broadcast_to(np.asarray(self.short_term_rate, dtype=float), (n_p,)),
            np.broadcast_to(np.asarray(self.long_term_rate, dtype=float), (n_p,)),
        )

    def take(self, rows: np.ndarray, n_p: int) -> "CostModel":
        """The model for the portfolios `rows` of P."""

        def sub(value: float | np.ndarray) -> np.ndarray:
            return np.broadcast_to(np.asarray(value, dtype=float), (n_p,))[rows]

        sliced: dict[str, Any] = {
            name: sub(getattr(self, name))
            for name in (
                "short_term_rate", "long_term_rate", "realised_short_term", "realised_long_term",
                "carry_short", "carry_long", "loss_limit", "relief",
            )
        }  # fmt: skip
        return replace(self, **sliced)

    def estimate(self, short_term: np.ndarray, long_term: np.ndarray) -> np.ndarray:
        """The tax [P] that sales realising `short_term` / `long_term` [P] add to the year."""
        return tax.estimate_tax(
            short_term, long_term, short_rate=self.short_term_rate,
            long_rate=self.long_term_rate, realised_short_term=self.realised_short_term,
            realised_long_term=self.realised_long_term, carry_short=self.carry_short,
            carry_long=self.carry_long, limit=self.loss_limit,
        ).tax  # fmt: skip


@dataclass(frozen=True)
class Trades:
    """Result. Trade rows [N]: portfolio, security (indices into the book), side (+1 buy,
    -1 sell), quantity (shares > 0), price, amount (= quantity x price), cost, short/long-term
    gain (sells). Lot reliefs [M]: lot (index into Lots), trade (row), quantity, gains.
    Per portfolio [P]: cash_after, cost, short/long-term gain, tax (estimated, negative = saved),
    class_values_after [P, K], weights_after [P, K], notes (constraints that held trades back)."""

    portfolio: np.ndarray
    security: np.ndarray
    side: np.ndarray
    quantity: np.ndarray
    price: np.ndarray
    amount: np.ndarray
    cost: np.ndarray
    short_term_gain: np.ndarray
    long_term_gain: np.ndarray
    lot: np.ndarray
    lot_trade: np.ndarray
    lot_quantity: np.ndarray
    lot_short_term_gain: np.ndarray
    lot_long_term_gain: np.ndarray
    cash_after: np.ndarray
    total_cost: np.ndarray
    total_short_term_gain: np.ndarray
    total_long_term_gain: np.ndarray
    tax: np.ndarray
    class_values_after: np.ndarray
    weights_after: np.ndarray
    notes: np.ndarray
    # [P] short-term gain the policy kept unsold: what the same tax-ordered relief would have
    # realised from the held-back lots (shares before whole-share rounding, minimum trade and
    # tax cap). None where not computed (e.g. switch-back trades).
    held_back_short_term_gain: np.ndarray | None = None

    def count(self) -> np.ndarray:
        """Trades per portfolio [P]."""
        return np.bincount(self.portfolio, minlength=len(self.cash_after))


def waterfill(amounts: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """Spend `budget` [P] on the largest `amounts` [P, N] first: result = max(amounts - L, 0)
    with the level L per row chosen so the row sums to min(budget, row sum). Rows whose budget
    covers everything are unchanged; a budget <= 0 gives zeros."""
    amounts = np.maximum(np.asarray(amounts, dtype=float), 0.0)
    budget = np.maximum(np.asarray(budget, dtype=float), 0.0)
    if amounts.size == 0:
        return amounts
    ordered = -np.sort(-amounts, axis=1)
    cum = np.cumsum(ordered, axis=1)
    j = np.arange(1, amounts.shape[1] + 1)[None, :]
    level = (cum - budget[:, None]) / j
    valid = ordered > level
    valid[:, 0] = True  # the largest amount always takes part (guards a budget that underflows)
    last = valid.shape[1] - 1 - np.argmax(valid[:, ::-1], axis=1)
    chosen = level[np.arange(len(level)), last]
    result = np.maximum(amounts - np.maximum(chosen, 0.0)[:, None], 0.0)
    result = np.where((budget <= 0)[:, None], 0.0, result)
    return np.where((cum[:, -1] <= budget)[:, None], amounts, result)


def project_to_bands(
    weights: np.ndarray, low: np.ndarray, high: np.ndarray, iterations: int = 80
) -> np.ndarray:
    """Euclidean projection of each row of `weights` onto {low <= x <= high, sum x = 1}:
    x = clip(w - lam, low, high) with lam found by bisection. A row already inside is unchanged.
    Requires sum(low) <= 1 <= sum(high) per row."""
    lo = np.full(len(weights), -1.0) + weights.min(axis=1, initial=0.0) - 1.0
    hi = weights.max(axis=1, initial=0.0) + 1.0
    for _ in range(iterations):
        mid = (lo + hi) / 2
        total = np.clip(weights - mid[:, None], low, high).sum(axis=1)
        too_much = total > 1.0
        lo = np.where(too_much, mid, lo)
        hi = np.where(too_much, hi, mid)
    return np.clip(weights - ((lo + hi) / 2)[:, None], low, high)


def desired_class_values(
    values: np.ndarray,
    target: np.ndarray,
    band: np.ndarray,
    rebalance: np.ndarray,
    calendar: np.ndarray,
    cash_flow: np.ndarray,
    full: np.ndarray,
    investable: np.ndarray,
) -> np.ndarray:
    """Class values [P, K] each trading portfolio should end with (others: unchanged), from
    the class values [P, K], targets, band half-widths (a Decision's `band`), the fired rules
    [P] and the policies' `full` [P] (see the module docstring, step 2)."""
    desired = values.copy()
    full = rebalance & (full | calendar)
    desired[full] = target[full] * investable[full, None]
    edge = rebalance & ~full
    if edge.any():
        width = np.where(np.isinf(band[edge]), 1.0, band[edge])
        low = np.maximum(target[edge] - width, 0.0)
        high = np.minimum(target[edge] + width, 1.0)
        current = np.divide(
            values[edge],
            investable[edge, None],
            out=np.zeros_like(values[edge]),
            where=investable[edge, None] > 0,
        )
        desired[edge] = project_to_bands(current, low, high) * investable[edge, None]
    flow = cash_flow & ~rebalance
    if flow.any():
        goal = target[flow] * investable[flow, None]
        change = investable[flow] - values[flow].sum(axis=1)
        buys = waterfill(np.maximum(goal - values[flow], 0.0), np.maximum(change, 0.0))
        sells = waterfill(np.maximum(values[flow] - goal, 0.0), np.maximum(-change, 0.0))
        desired[flow] = values[flow] + buys - sells
    return desired


def class_trades(
    values: np.ndarray,
    cash: np.ndarray,
    target: np.ndarray,
    decision: Decision,
    policies: Policies,
    costs: CostModel,
    withdrawal: np.ndarray,
) -> np.ndarray:
    """Steps 1-2 of the method: the change of each class's value [P, K] (currency, + buy), with
    the estimated costs deducted from the investable value (two passes) and class trades below
    the minimum trade dropped. `values` [P, K] class values, `cash` and `withdrawal` [P]."""
    bps = costs.slippage_bps / 1e4
    total = values.sum(axis=1) + cash
    trading = decision.rebalance | decision.cash_flow
    min_trade = np.maximum(policies.min_trade, 0.0)
    buffer = policies.cash_buffer * total
    est_cost = np.zeros(len(cash))
    delta = np.zeros_like(values)
    for _ in range(2):
        investable = np.maximum(total - buffer - withdrawal - est_cost, 0.0)
        desired = desired_class_values(
            values,
            target,
            decision.band,
            decision.rebalance,
            decision.calendar,
            decision.cash_flow,
            policies.full,
            investable,
        )
        delta = desired - values
        delta[~trading] = 0.0
        delta[np.abs(delta) < np.maximum(min_trade[:, None], EPS)] = 0.0
        est_cost = costs.commission * (delta != 0).sum(axis=1) + bps * np.abs(delta).sum(axis=1)
    return delta


def buy_budget(
    cash: np.ndarray,
    buffer: np.ndarray,
    withdrawal: np.ndarray,
    proceeds: np.ndarray,
    n_trades: np.ndarray,
    trading: np.ndarray,
    costs: CostModel,
) -> np.ndarray:
    """Money available for buys [P], net of their own costs: cash above the buffer, less the
    withdrawal, plus sale proceeds net of slippage, less a commission per trade (sells and
    buys), divided by (1 + slippage); 0 for portfolios that do not trade."""
    bps = costs.slippage_bps / 1e4
    budget = (cash - buffer - withdrawal + proceeds * (1 - bps) - costs.commission * n_trades) / (
        1 + bps
    )
    return np.where(trading, np.maximum(budget, 0.0), 0.0)


def buy_shares(
    buy_value: np.ndarray, price: np.ndarray, whole: np.ndarray, min_trade: np.ndarray
) -> np.ndarray:
    """Shares to buy [P, K] for the amounts `buy_value` [P, K] at `price` [P, K]: whole-share
    securities (`whole` [P, K]) round down, and a buy below the minimum trade [P] is dropped."""
    shares = np.divide(buy_value, price, out=np.zeros_like(buy_value), where=buy_value > 0)
    shares = np.where(whole, np.floor(shares + 1e-9), shares)
    return np.where(shares * price >= np.maximum(min_trade[:, None], EPS), shares, 0.0)


def trade_costs(sell_amount: np.ndarray, buy_amount: np.ndarray, costs: CostModel) -> np.ndarray:
    """Cost of each sell and buy [P, N] (currency): commission plus slippage on the amount."""
    bps = costs.slippage_bps / 1e4
    return np.where(sell_amount > 0, costs.commission + bps * sell_amount, 0.0) + np.where(
        buy_amount > 0, costs.commission + bps * buy_amount, 0.0
    )


def _group_cumsum_before(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """For values sorted by group: the running sum of earlier values in the same group."""
    total = np.cumsum(values)
    before = total - values
    if len(values) == 0:
        return before
    starts = np.concatenate(([True], groups[1:] != groups[:-1]))
    offset = np.maximum.accumulate(np.where(starts, before, 0.0))
    return before - offset


def generate(
    book: Book,
    drift: Drift,
    decision: Decision,
    policies: Policies,
    lots: Lots,
    *,
    today: dt.date | np.ndarray,
    costs: CostModel | None = None,
    blocked: set[tuple[int, int]] | frozenset[tuple[int, int]] = frozenset(),
    withdrawal: np.ndarray | None = None,
    no_buy: set[tuple[int, int]] | frozenset[tuple[int, int]] = frozenset(),
    households: np.ndarray | None = None,
) -> Trades:
    """Trades for every portfolio whose rule fired (see the module docstring for the method).

    blocked: (household id, security id) pairs with a purchase in the wash-sale window; a lot
    of such a pair is never sold at a loss.
    no_buy: (household id, security id) pairs that may not be bought (a loss sale in the past
    30 days, or a pending harvest sells it); needs `households` [P], the owner of each portfolio.

    `today` is one date, or one datetime64[D] per portfolio [P] (a backtest steps each variant
    on its own day; holding periods are then measured to each portfolio's own date).

    Only the portfolios whose rule fired are computed (a scan batch fires for a few percent);
    the others keep their holdings and cash, and the result covers all P.
    """
    active = np.flatnonzero(decision.fired)
    n_p = len(book.portfolio_ids)
    if len(active) == n_p:  # every portfolio fired (a backtest step): nothing to cut out
        return _generate(
            book, drift, decision, policies, lots, today=today,
            costs=(costs or CostModel()).take(active, n_p), blocked=blocked,
            withdrawal=None if withdrawal is None else np.asarray(withdrawal, dtype=float),
            no_buy=no_buy, households=households,
        )  # fmt: skip
    position = np.full(n_p, -1)
    position[active] = np.arange(len(active))
    kept = np.flatnonzero(position[lots.portfolio] >= 0)
    sub = _generate(
        _rows(book, active, ("portfolio_ids", "quantity", "cash", "target", "target_security")),
        _rows(drift, active),
        _rows(decision, active),
        _rows(policies, active),
        replace(_rows(lots, kept), portfolio=position[lots.portfolio[kept]]),
        today=today[active] if isinstance(today, np.ndarray) and today.ndim else today,
        costs=(costs or CostModel()).take(active, n_p),
        blocked=blocked,
        withdrawal=None if withdrawal is None else np.asarray(withdrawal, dtype=float)[active],
        no_buy=no_buy,
        households=None if households is None else np.asarray(households)[active],
    )

    def spread(values: np.ndarray, default: np.ndarray) -> np.ndarray:
        out = default.copy()
        out[active] = values
        return out

    zeros = np.zeros(n_p)
    return replace(
        sub,
        portfolio=active[sub.portfolio],
        lot=kept[sub.lot],
        cash_after=spread(sub.cash_after, book.cash.astype(float)),
        total_cost=spread(sub.total_cost, zeros),
        total_short_term_gain=spread(sub.total_short_term_gain, zeros),
        total_long_term_gain=spread(sub.total_long_term_gain, zeros),
        tax=spread(sub.tax, zeros),
        class_values_after=spread(sub.class_values_after, drift.class_values),
        weights_after=spread(sub.weights_after, weights_of(drift.class_values)),
        notes=spread(sub.notes, np.full(n_p, "", dtype=object)),
        held_back_short_term_gain=None
        if sub.held_back_short_term_gain is None
        else spread(sub.held_back_short_term_gain, zeros),
    )


def _rows(obj: Rows, rows: np.ndarray, names: tuple[str, ...] | None = None) -> Rows:
    """A copy of the engine dataclass `obj` with its per-portfolio arrays (`names`, default all
    fields) cut to `rows`."""
    names = names or tuple(f.name for f in fields(obj))
    return replace(obj, **{name: getattr(obj, name)[rows] for name in names})


def _generate(
    book: Book,
    drift: Drift,
    decision: Decision,
    policies: Policies,
    lots: Lots,
    *,
    today: dt.date | np.ndarray,
    costs: CostModel,
    blocked: set[tuple[int, int]] | frozenset[tuple[int, int]],
    withdrawal: np.ndarray | None,
    no_buy: set[tuple[int, int]] | frozenset[tuple[int, int]],
    households: np.ndarray | None,
) -> Trades:
    """`generate` for portfolios that all fired (the arguments as there)."""
    n_p, n_s, n_k = len(book.portfolio_ids), len(book.security_ids), len(book.classes)
    withdrawal = np.zeros(n_p) if withdrawal is None else np.asarray(withdrawal, dtype=float)
    trading = decision.rebalance | decision.cash_flow
    notes: list[list[str]] = [[] for _ in range(n_p)]
    min_trade = np.maximum(policies.min_trade, 0.0)
    buffer = policies.cash_buffer * drift.total

    # 1-2. Desired class trades, with costs deducted from the investable value (two passes).
    delta = class_trades(
        drift.class_values, book.cash, book.target, decision, policies, costs, withdrawal
    )

    # 3. Sells from lots, in tax order per (portfolio, class).
    sell_needed = np.maximum(-delta, 0.0)
    lp, ls = lots.portfolio.astype(int), lots.security.astype(int)
    lk = book.security_class[ls] if len(ls) else np.zeros(0, dtype=int)
    price_l = book.prices[ls] if len(ls) else np.zeros(0)
    quantity_l = lots.quantity.astype(float)
    cost_per_share = np.divide(
        lots.cost_basis, quantity_l, out=np.zeros_like(quantity_l), where=quantity_l > 0
    )
    gain_per_share = price_l - cost_per_share
    on = (
        today.astype("datetime64[D]")[lp]
        if isinstance(today, np.ndarray) and today.ndim
        else np.asarray(today, dtype="datetime64[D]")
    )
    long_term = is_long_term(lots.holding_start, on) if len(ls) else np.zeros(0, dtype=bool)
    loss = gain_per_share < 0
    if blocked and len(ls):
        keys = np.array([h * (1 << 32) + s for h, s in blocked], dtype=np.int64)
        lot_keys = lots.household.astype(np.int64) * (1 << 32) + book.security_ids[ls].astype(
            np.int64
        )
        wash = loss & np.isin(lot_keys, keys)
    else:
        wash = np.zeros(len(ls), dtype=bool)
    short_term_gain_lot = (gain_per_share > 0) & ~long_term
    held_back_st = (
        short_term_gain_lot & ~policies.allow_short_term_gains[lp]
        if len(ls)
        else np.zeros(0, dtype=bool)
    )
    wanted = sell_needed[lp, lk] > 0 if len(ls) else np.zeros(0, dtype=bool)
    available = wanted & ~wash & ~held_back_st
    group = np.where(loss, 0, np.where(long_term, 1, 2))
    relief = np.broadcast_to(np.asarray(costs.relief, dtype=float), (n_p,))[lp]
    first = np.where(relief == 0, group, 0)
    then = np.select(
        [relief == 1, relief == 2],
        [lots.holding_start.astype("datetime64[D]").astype(float), -np.round(cost_per_share, 10)],
        np.round(gain_per_share, 10),
    )
    order = np.lexsort((np.arange(len(ls)), then, first, lk, lp))
    value_sorted = (quantity_l * price_l * available)[order]
    key_sorted = (lp * n_k + lk)[order]
    before = _group_cumsum_before(value_sorted, key_sorted)
    take_value = np.zeros(len(ls))
    take_value[order] = np.clip(sell_needed.reshape(-1)[key_sorted] - before, 0.0, value_sorted)
    # The same relief with short-term gains allowed: the gain the hold-back kept unrealised.
    allowed_sorted = (quantity_l * price_l * (wanted & ~wash))[order]
    allowed_value = np.zeros(len(ls))
    allowed_value[order] = np.clip(
        sell_needed.reshape(-1)[key_sorted] - _group_cumsum_before(allowed_sorted, key_sorted),
        0.0,
        allowed_sorted,
    )
    held_back_gain = np.bincount(
        lp,
        np.where(
            held_back_st,
            np.divide(allowed_value, price_l, out=np.zeros(len(ls)), where=price_l > 0)
            * gain_per_share,
            0.0,
        ),
        minlength=n_p,
    )
    take = np.divide(take_value, price_l, out=np.zeros_like(take_value), where=price_l > 0)
    whole = ~book.fractional[ls] if len(ls) else np.zeros(0, dtype=bool)
    take = np.where(
        whole & (take > 0),
        np.minimum(np.ceil(take - 1e-7), quantity_l),
        np.minimum(take, quantity_l),
    )

    for i in np.unique(lp[wanted & wash]):
        notes[i].append(
            "Lots at a loss were not sold: the security (or a substantially identical one) was "
            "bought in your household in the past 30 days or its dividends are reinvested, which "
            "would make the loss a wash sale."
        )
    for i in np.unique(lp[wanted & held_back_st]):
        notes[i].append("Lots with short-term gains were not sold (policy).")

    # Drop sells smaller than the minimum trade per (portfolio, security).
    sell_value = np.zeros((n_p, n_s))
    np.add.at(sell_value, (lp, ls), take * price_l)
    take = np.where(sell_value[lp, ls] >= np.maximum(min_trade[lp], EPS), take, 0.0)

    # Cap the estimated tax: hold back the most tax-expensive shares first.
    st_rate, lt_rate = costs.rates(n_p)
    rate = np.where(long_term, lt_rate[lp], st_rate[lp])
    tax_per_share = gain_per_share * rate
    tax_lot = take * tax_per_share
    cap = policies.max_tax_cost
    excess = np.bincount(lp, tax_lot, minlength=n_p) - np.where(np.isnan(cap), np.inf, cap)
    if len(ls) and (excess > EPS).any():
        candidates = (take > 0) & (tax_per_share > 0) & (excess[lp] > EPS)
        idx = np.flatnonzero(candidates)
        idx = idx[np.lexsort((-tax_per_share[idx], lp[idx]))]
        removed_before = _group_cumsum_before(tax_lot[idx], lp[idx])
        remove_tax = np.clip(excess[lp[idx]] - removed_before, 0.0, tax_lot[idx])
        remove = remove_tax / tax_per_share[idx]
        remove = np.where(whole[idx], np.ceil(remove - 1e-7), remove)
        take[idx] = np.maximum(take[idx] - remove, 0.0)
        for i in np.unique(lp[idx]):
            notes[i].append(f"Sales reduced to keep the estimated tax within {cap[i]:,.2f}.")
        sell_value = np.zeros((n_p, n_s))
        np.add.at(sell_value, (lp, ls), take * price_l)
        take = np.where(sell_value[lp, ls] >= np.maximum(min_trade[lp], EPS), take, 0.0)

    sell_qty = np.zeros((n_p, n_s))
    np.add.at(sell_qty, (lp, ls), take)
    sell_amount = sell_qty * book.prices[None, :]
    n_sells = (sell_qty > 0).sum(axis=1)
    proceeds = sell_amount.sum(axis=1)

    # 4. Buys, paid from cash above the buffer plus proceeds, net of costs.
    buy_needed = np.maximum(delta, 0.0)
    has_vehicle = book.target_security >= 0
    for i in np.unique(np.nonzero((buy_needed > 0) & ~has_vehicle)[0]):
        notes[i].append("An underweight class has no security to buy.")
    buy_needed = np.where(has_vehicle, buy_needed, 0.0)
    if no_buy and households is not None and n_s:
        keys = np.array([h * (1 << 32) + s for h, s in no_buy], dtype=np.int64)
        vehicle_ids = book.security_ids[np.where(has_vehicle, book.target_security, 0)].astype(
            np.int64
        )
        barred = has_vehicle & np.isin(
            np.asarray(households, dtype=np.int64)[:, None] * (1 << 32) + vehicle_ids, keys
        )
        for i in np.unique(np.nonzero(barred & (buy_needed > 0))[0]):
            notes[i].append("A buy inside a wash-sale window was left out.")
        buy_needed = np.where(barred, 0.0, buy_needed)
    n_buys = (buy_needed > 0).sum(axis=1)
    budget = buy_budget(book.cash, buffer, withdrawal, proceeds, n_sells + n_buys, trading, costs)
    # Worth a note only when the shortfall is material (not the cost-estimate rounding).
    shortfall = buy_needed.sum(axis=1) - budget
    short = shortfall > np.maximum(min_trade, 0.01 * buy_needed.sum(axis=1))
    for i in np.flatnonzero(short & (buy_needed.sum(axis=1) > 0)):
        notes[i].append("Not enough cash for every buy: the most underweight classes come first.")
    buy_value = waterfill(buy_needed, budget)
    vehicle = np.where(has_vehicle, book.target_security, 0)
    vehicle_price = book.prices[vehicle] if n_s else np.ones_like(buy_value)
    vehicle_whole = ~book.fractional[vehicle] if n_s else np.zeros_like(buy_value, dtype=bool)
    shares = buy_shares(buy_value, vehicle_price, vehicle_whole, min_trade)
    buy_qty = np.zeros((n_p, n_s))
    rows = np.repeat(np.arange(n_p), n_k)
    np.add.at(buy_qty, (rows, vehicle.reshape(-1)), shares.reshape(-1))
    buy_amount = buy_qty * book.prices[None, :]

    # Costs and the cash guard (a portfolio whose cash would go negative trades nothing).
    trade_cost = trade_costs(sell_amount, buy_amount, costs)
    total_cost = trade_cost.sum(axis=1)
    cash_after = book.cash + proceeds - buy_amount.sum(axis=1) - total_cost
    broke = cash_after < -1e-6
    if broke.any():
        for i in np.flatnonzero(broke):
            notes[i].append("No trades: costs would exceed the cash available.")
        sell_qty[broke] = buy_qty[broke] = trade_cost[broke] = 0.0
        sell_amount[broke] = buy_amount[broke] = 0.0
        take[broke[lp]] = 0.0
        total_cost = trade_cost.sum(axis=1)
        cash_after = book.cash + sell_amount.sum(axis=1) - buy_amount.sum(axis=1) - total_cost

    # Gains per lot, then assemble the rows.
    st_lot = np.where(~long_term, take * gain_per_share, 0.0)
    lt_lot = np.where(long_term, take * gain_per_share, 0.0)
    trades = assemble(
        book, lots, take=take, st_lot=st_lot, lt_lot=lt_lot, sell_qty=sell_qty,
        buy_qty=buy_qty, cash_after=cash_after, costs=costs, notes=notes,
    )  # fmt: skip
    return replace(trades, held_back_short_term_gain=np.where(broke, 0.0, held_back_gain))


def assemble(
    book: Book,
    lots: Lots,
    *,
    take: np.ndarray,
    st_lot: np.ndarray,
    lt_lot: np.ndarray,
    sell_qty: np.ndarray,
    buy_qty: np.ndarray,
    cash_after: np.ndarray,
    costs: CostModel,
    notes: list[list[str]],
) -> Trades:
    """The trade rows and per-portfolio totals of a decided set of trades: `take` [L] shares
    sold from each lot with its short/long-term gain (`st_lot`, `lt_lot` [L]), `sell_qty` and
    `buy_qty` [P, S] shares per (portfolio, security), `cash_after` [P]. Sells are listed
    before buys; costs per `costs`."""
    n_p, n_s = book.quantity.shape
    lp, ls = lots.portfolio.astype(int), lots.security.astype(int)
    bps = costs.slippage_bps / 1e4
    sell_amount = sell_qty * book.prices[None, :]
    buy_amount = buy_qty * book.prices[None, :]
    sell_cost = np.where(sell_qty > 0, costs.commission + bps * sell_amount, 0.0)
    buy_cost = np.where(buy_qty > 0, costs.commission + bps * buy_amount, 0.0)
    st_matrix, lt_matrix = np.zeros((n_p, n_s)), np.zeros((n_p, n_s))
    np.add.at(st_matrix, (lp, ls), st_lot)
    np.add.at(lt_matrix, (lp, ls), lt_lot)
    sp, ss = np.nonzero(sell_qty > 0)
    bp, bs = np.nonzero(buy_qty > 0)
    row_of_sell = np.full((n_p, n_s), -1)
    row_of_sell[sp, ss] = np.arange(len(sp))
    security = np.concatenate((ss, bs))
    taken = np.flatnonzero(take > 0)
    class_values_after = ((book.quantity - sell_qty + buy_qty) * book.prices[None, :]) @ (
        book.class_matrix
    )
    st_total, lt_total = st_matrix.sum(axis=1), lt_matrix.sum(axis=1)
    return Trades(
        portfolio=np.concatenate((sp, bp)),
        security=security,
        side=np.concatenate((np.full(len(sp), SELL), np.full(len(bp), BUY))),
        quantity=np.concatenate((sell_qty[sp, ss], buy_qty[bp, bs])),
        price=book.prices[security] if len(security) else np.zeros(0),
        amount=np.concatenate((sell_amount[sp, ss], buy_amount[bp, bs])),
        cost=np.concatenate((sell_cost[sp, ss], buy_cost[bp, bs])),
        short_term_gain=np.concatenate((st_matrix[sp, ss], np.zeros(len(bp)))),
        long_term_gain=np.concatenate((lt_matrix[sp, ss], np.zeros(len(bp)))),
        lot=taken,
        lot_trade=row_of_sell[lp[taken], ls[taken]],
        lot_quantity=take[taken],
        lot_short_term_gain=st_lot[taken],
        lot_long_term_gain=lt_lot[taken],
        cash_after=cash_after,
        total_cost=(sell_cost + buy_cost).sum(axis=1),
        total_short_term_gain=st_total,
        total_long_term_gain=lt_total,
        tax=costs.estimate(st_total, lt_total),
        class_values_after=class_values_after,
        weights_after=weights_of(class_values_after),
        notes=np.array([" ".join(n) for n in notes], dtype=object),
    )
