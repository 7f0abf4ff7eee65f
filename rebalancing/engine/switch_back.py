"""Switch back to the preferred security once the wash-sale window has passed, pure numpy.

A harvest sells a position at a loss and buys a replacement for the same value (VTI -> ITOT).
The preferred security of an asset class is the one the portfolio's target buys for it
(`Book.target_security`). Once the replacement has been held for more than 30 days, it can be
sold and the preferred security bought for the same value, when that realises no more gain
than the policy allows.

Vectorised over P portfolios (no Python loop over portfolios). Units as in `trades`: money in
the account currency (float64), quantities in shares, costs per `CostModel` (commission per
trade plus basis points of the traded amount). Realised gain = proceeds - cost basis, before
costs (positive: a gain).

Rule, per open lot of security s (class k) in portfolio p of household h:
- s is not the preferred security of k in p, and k has one (target_security[p, k] >= 0);
- held for at least 31 days: today - holding_start >= MIN_AGE_DAYS;
- (h, s) is not in `blocked` (s was bought in the household in the past 30 days, or will be:
  selling it would wash a loss; every lot of the pair stays);
- (h, preferred) is not in `no_buy` (the preferred was sold at a loss in the past 30 days, or a
  harvest of it is waiting: buying it back would wash that loss);
- not a loss lot of a security substantially identical to the preferred (same `group` key):
  the switch's own buy would wash it;
- not a short-term gain unless `allow_short_term_gains[p]`.
The eligible lots of one (portfolio, class) make one switch: sell them all, and buy the
preferred security with the proceeds net of costs, budget = (proceeds x (1 - bps) -
commission x (securities sold + 1)) / (1 + bps); floor(budget / price) shares where only whole
shares trade. A switch that buys nothing, or less than `min_trade`, is dropped. Per portfolio
the switches are taken in order of realised gain, largest loss first, as long as the running
total stays within `max_gain[p]` (plus half a cent for float rounding); NaN: never switch back.
Cash after = cash + proceeds - buys - costs, never below the cash before.
"""

import datetime as dt

import numpy as np

from rebalancing.engine.drift import Book
from rebalancing.engine.lots import is_long_term
from rebalancing.engine.trades import CostModel, Lots, Trades, assemble

MIN_AGE_DAYS = 31
GAIN_TOLERANCE = 0.005  # half a cent: a gain that rounds to the limit is within it
EPS = 1e-9


def _pair_keys(households: np.ndarray, securities: np.ndarray) -> np.ndarray:
    return np.asarray(households, dtype=np.int64) * (1 << 32) + np.asarray(
        securities, dtype=np.int64
    )


def _in_pairs(
    households: np.ndarray,
    securities: np.ndarray,
    pairs: set[tuple[int, int]] | frozenset[tuple[int, int]],
) -> np.ndarray:
    if not pairs or not len(households):
        return np.zeros(len(households), dtype=bool)
    keys = np.array([h * (1 << 32) + s for h, s in pairs], dtype=np.int64)
    return np.isin(_pair_keys(households, securities), keys)


def propose(
    book: Book,
    lots: Lots,
    *,
    today: dt.date,
    max_gain: np.ndarray,
    allow_short_term_gains: np.ndarray,
    min_trade: np.ndarray | None = None,
    costs: CostModel | None = None,
    blocked: set[tuple[int, int]] | frozenset[tuple[int, int]] = frozenset(),
    no_buy: set[tuple[int, int]] | frozenset[tuple[int, int]] = frozenset(),
    group: np.ndarray | None = None,
) -> Trades:
    """Switch-back trades for every portfolio of the book (see the module docstring).

    max_gain [P]: the largest total realised gain a portfolio's switch may have (currency;
    0 = only switches at a loss or at no gain; NaN = never). allow_short_term_gains [P] bool.
    min_trade [P]: smallest buy, currency (default 0). blocked / no_buy: (household id,
    security id) pairs, as in `trades.generate`. group [S]: a substantially-identical key per
    security of the book (securities sharing a key are identical; default: each its own).
    The result has the layout of `trades.generate`'s; `notes` says what was held back.
    """
    costs = costs or CostModel()
    bps = costs.slippage_bps / 1e4
    n_p, n_s, n_k = len(book.portfolio_ids), len(book.security_ids), len(book.classes)
    max_gain = np.asarray(max_gain, dtype=float)
    allow_st = np.asarray(allow_short_term_gains, dtype=bool)
    min_trade = np.zeros(n_p) if min_trade is None else np.maximum(np.asarray(min_trade), 0.0)
    notes: list[list[str]] = [[] for _ in range(n_p)]

    lp, ls = lots.portfolio.astype(int), lots.security.astype(int)
    n_l = len(lp)
    lk = book.security_class[ls] if n_l else np.zeros(0, dtype=int)
    preferred = book.target_security[lp, lk] if n_l else np.zeros(0, dtype=int)
    pref_safe = np.maximum(preferred, 0)
    quantity = lots.quantity.astype(float)
    value = quantity * (book.prices[ls] if n_l else np.zeros(0))
    gain = value - lots.cost_basis.astype(float)
    on = np.datetime64(today, "D")
    start = np.asarray(lots.holding_start, dtype="datetime64[D]")
    age = (on - start).astype(np.int64)
    long_term = is_long_term(start, on) if n_l else np.zeros(0, dtype=bool)
    household = np.asarray(lots.household, dtype=np.int64)

    eligible = (
        (preferred >= 0)
        & (ls != preferred)
        & (quantity > 0)
        & (age >= MIN_AGE_DAYS)
        & np.isfinite(max_gain[lp] if n_l else np.zeros(0))
    )
    eligible &= ~_in_pairs(household, book.security_ids[ls], blocked)
    eligible &= ~_in_pairs(household, book.security_ids[pref_safe], no_buy)
    if group is not None and n_l:
        group = np.asarray(group)
        eligible &= ~((gain < 0) & (group[ls] == group[pref_safe]))
    held_st = eligible & (gain > EPS) & ~long_term & ~(allow_st[lp] if n_l else np.zeros(0, bool))
    eligible &= ~held_st
    for i in np.unique(lp[held_st]):
        notes[i].append("Lots with short-term gains were not switched back (policy).")

    # One switch per (portfolio, class): sell every eligible lot, buy the preferred security.
    chosen_lot = np.zeros(n_l, dtype=bool)
    buy_qty = np.zeros((n_p, n_s))
    idx = np.flatnonzero(eligible)
    if len(idx):
        units, inverse = np.unique(lp[idx] * n_k + lk[idx], return_inverse=True)
        n_u = len(units)
        u_p, u_k = units // n_k, units % n_k
        u_value = np.bincount(inverse, value[idx], minlength=n_u)
        u_gain = np.bincount(inverse, gain[idx], minlength=n_u)
        sold = np.unique(inverse * n_s + ls[idx])
        u_sells = np.bincount(sold // n_s, minlength=n_u)
        u_pref = book.target_security[u_p, u_k]
        u_price = book.prices[u_pref]
        budget = np.maximum(
            (u_value * (1 - bps) - costs.commission * (u_sells + 1)) / (1 + bps), 0.0
        )
        shares = budget / u_price
        shares = np.where(~book.fractional[u_pref], np.floor(shares + 1e-9), shares)
        viable = (shares > 0) & (shares * u_price >= np.maximum(min_trade[u_p], EPS))

        # Largest loss first; keep the longest run whose running gain stays within the limit.
        cand = np.flatnonzero(viable)
        cand = cand[np.lexsort((u_gain[cand], u_p[cand]))]
        position = np.arange(len(cand))
        total = np.cumsum(u_gain[cand])
        starts = np.r_[True, u_p[cand][1:] != u_p[cand][:-1]] if len(cand) else np.zeros(0, bool)
        first = np.maximum.accumulate(np.where(starts, position, 0))
        running = total - (total - u_gain[cand])[first]  # running gain inside each portfolio
        within = running <= max_gain[u_p[cand]] + GAIN_TOLERANCE
        last = np.full(n_p, -1)
        np.maximum.at(last, u_p[cand], np.where(within, position, -1))
        take_unit = np.zeros(n_u, dtype=bool)
        take_unit[cand[position <= last[u_p[cand]]]] = True
        for i in np.unique(u_p[cand[position > last[u_p[cand]]]]):
            notes[i].append(
                f"Switches that would realise more than {max_gain[i]:,.2f} of gain were kept."
            )
        chosen_lot[idx] = take_unit[inverse]
        np.add.at(buy_qty, (u_p[take_unit], u_pref[take_unit]), shares[take_unit])

    take = np.where(chosen_lot, quantity, 0.0)
    sell_qty = np.zeros((n_p, n_s))
    np.add.at(sell_qty, (lp, ls), take)
    sell_amount = sell_qty * book.prices[None, :]
    buy_amount = buy_qty * book.prices[None, :]
    total_cost = (
        np.where(sell_qty > 0, costs.commission + bps * sell_amount, 0.0)
        + np.where(buy_qty > 0, costs.commission + bps * buy_amount, 0.0)
    ).sum(axis=1)
    return assemble(
        book,
        lots,
        take=take,
        st_lot=np.where(chosen_lot & ~long_term, gain, 0.0),
        lt_lot=np.where(chosen_lot & long_term, gain, 0.0),
        sell_qty=sell_qty,
        buy_qty=buy_qty,
        cash_after=book.cash + sell_amount.sum(axis=1) - buy_amount.sum(axis=1) - total_cost,
        costs=costs,
        notes=notes,
    )
