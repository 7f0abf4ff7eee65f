"""Switch back to the preferred security after the wash-sale window: the drift check's hook.

A harvest leaves a portfolio holding a replacement (ITOT) where its target buys the preferred
security (VTI). `add_switches` runs after the rebalancing rules of a drift-check batch: for
every portfolio where no rule fired (or no trade passed the constraints), the engine
(`rebalancing.engine.switch_back`) proposes selling replacement lots held more than 30 days
and buying the preferred security for the same value, when the realised gain stays within the
policy's `switch_back_max_gain`. The result becomes a rebalance proposal with rule
"switch_back", written with the rest of the batch.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from portfolios.models import Portfolio
from rebalancing import selectors, selectors_harvest
from rebalancing.engine import drift, switch_back, trades
from rebalancing.models import ProposedTrade, RebalancePolicy
from rebalancing.services import proposals

if TYPE_CHECKING:
    from rebalancing.services.drift import CheckResult

RULE = "switch_back"
SWITCHABLE = ("no_action", "no_trades")  # outcomes of the rules that leave room for a switch


def _gain_words(gain: float) -> str:
    if gain > 0.005:
        return f"a gain of {gain:,.2f}"
    if gain < -0.005:
        return f"a loss of {-gain:,.2f}"
    return "no gain"


def _max_gains(portfolio_ids: np.ndarray) -> np.ndarray:
    """switch_back_max_gain per portfolio (NaN: never): its own policy, else its model's, else
    the default. One query over the id range."""
    ids = [int(i) for i in portfolio_ids]
    default = RebalancePolicy._meta.get_field("switch_back_max_gain").default
    rows = Portfolio.objects.filter(pk__gte=min(ids), pk__lte=max(ids)).values_list(
        "pk",
        "rebalance_policy__id",
        "rebalance_policy__switch_back_max_gain",
        "model__default_policy__id",
        "model__default_policy__switch_back_max_gain",
    )
    limit: dict[int, Decimal | None] = {}
    for pk, own_id, own, model_id, model in rows:
        limit[pk] = own if own_id is not None else model if model_id is not None else default
    return np.array(
        [float(v) if (v := limit.get(pk)) is not None else np.nan for pk in ids], dtype=float
    )


def add_switches(
    batch: selectors.DriftBatch,
    state: drift.Drift,
    results: list[CheckResult],
    nothing_needed: list[int],
    *,
    today: dt.date,
    costs: trades.CostModel,
) -> list[int]:
    """Turn the batch's `no_action` / `no_trades` results into switch-back proposals where the
    engine finds a switch (status "would_propose", rule "switch_back", a draft); returns
    `nothing_needed` without those portfolios.

    No query unless a switchable portfolio holds a lot of a security other than its class's
    preferred one; then two (the policies' limits, identical groups). The wash-sale guard of
    those portfolios' households is already in the batch (`selectors.load_for_trading`).
    """
    book, lots = batch.book, batch.lots
    by_id = {r.portfolio_id: r for r in results}
    open_ = np.array(
        [
            (r := by_id.get(int(pid))) is not None and r.status in SWITCHABLE
            for pid in book.portfolio_ids
        ],
        dtype=bool,
    )
    if not open_.any() or not len(lots.lot_id):
        return nothing_needed
    lk = book.security_class[lots.security]
    preferred = book.target_security[lots.portfolio, lk]
    candidate = open_[lots.portfolio] & (preferred >= 0) & (preferred != lots.security)
    if not candidate.any():
        return nothing_needed

    max_gain = np.full(len(book.portfolio_ids), np.nan)
    where = np.unique(lots.portfolio[candidate])
    max_gain[where] = _max_gains(book.portfolio_ids[where])
    key_of, _members = selectors_harvest.group_members()
    result = switch_back.propose(
        book,
        lots,
        today=today,
        max_gain=max_gain,
        allow_short_term_gains=batch.policies.allow_short_term_gains,
        min_trade=batch.policies.min_trade,
        costs=costs,
        # A purchase in the household (past 30 days, or a dividend reinvested from now on,
        # identical funds included) makes a loss sale of the replacement a wash sale.
        blocked=batch.blocked_sells,
        no_buy=batch.no_buy,
        group=np.array([key_of.get(int(s), int(s)) for s in book.security_ids], dtype=np.int64),
    )
    switched: set[int] = set()
    for i in np.flatnonzero(result.count() > 0):
        r = by_id[int(book.portfolio_ids[i])]
        draft = _draft(int(i), batch, state, result, max_gain[i], today)
        r.status, r.rule, r.reason, r.notes, r.draft = (
            "would_propose",
            RULE,
            draft.reason,
            str(result.notes[i]),
            draft,
        )
        switched.add(r.portfolio_id)
    return [pid for pid in nothing_needed if pid not in switched]


def _draft(
    i: int,
    batch: selectors.DriftBatch,
    state: drift.Drift,
    result: trades.Trades,
    limit: float,
    today: dt.date,
) -> proposals.ProposalDraft:
    book = batch.book
    rows = np.flatnonzero(result.portfolio == i)  # sells first, as the engine lists them
    drafts: list[proposals.TradeDraft] = []
    prices: dict[str, list[str]] = {}
    sold_by_class: dict[int, list[int]] = {}
    gain_by_class: dict[int, float] = {}
    for sequence, r in enumerate(rows):
        s = int(result.security[r])
        relief = np.flatnonzero(result.lot_trade == r)
        side = ProposedTrade.Side.BUY if result.side[r] > 0 else ProposedTrade.Side.SELL
        if side == ProposedTrade.Side.SELL:
            k = int(book.security_class[s])
            sold_by_class.setdefault(k, []).append(s)
            gain_by_class[k] = gain_by_class.get(k, 0.0) + float(
                result.short_term_gain[r] + result.long_term_gain[r]
            )
        drafts.append(
            proposals.TradeDraft(
                security_id=int(book.security_ids[s]),
                side=side,
                quantity=Decimal(f"{result.quantity[r]:.8f}"),
                price=Decimal(f"{result.price[r]:.6f}"),
                lots=[
                    {
                        "lot": int(batch.lots.lot_id[result.lot[m]]),
                        "quantity": f"{result.lot_quantity[m]:.8f}",
                        "short_term_gain": f"{result.lot_short_term_gain[m]:.2f}",
                        "long_term_gain": f"{result.lot_long_term_gain[m]:.2f}",
                    }
                    for m in relief
                ],
                est_short_term_gain=proposals.money(result.short_term_gain[r]),
                est_long_term_gain=proposals.money(result.long_term_gain[r]),
                est_cost=proposals.money(result.cost[r]),
                sequence=sequence,
            )
        )
        prices[batch.tickers[s]] = [f"{book.prices[s]:.6f}", str(batch.price_dates[s])]

    ticker = batch.tickers
    sentences, switches, checks = [], [], []
    total = float(result.total_short_term_gain[i] + result.total_long_term_gain[i])
    for k, sold in sorted(sold_by_class.items()):
        preferred = ticker[int(book.target_security[i, k])]
        names = " and ".join(ticker[s] for s in sold)
        class_name = batch.class_names.get(book.classes[k], book.classes[k])
        sentences.append(
            f"{names} {'has' if len(sold) == 1 else 'have'} been held for over 30 days in place "
            f"of {preferred}, the security your target buys for {class_name} (for example "
            f"as a tax-loss harvest replacement); switching back realises {_gain_words(gain_by_class[k])}."
        )
        switches.append(
            {
                "sold": [ticker[s] for s in sold],
                "bought": preferred,
                "asset_class": book.classes[k],
                "gain": f"{gain_by_class[k]:.2f}",
            }
        )
        checks.append(
            f"{names} {'was' if len(sold) == 1 else 'were'} not bought in any of your accounts since "
            f"{today - dt.timedelta(days=30):%Y-%m-%d} and none of its dividends are reinvested; "
            f"{preferred} was not sold at a loss in the past 30 days and no harvest of it is waiting."
        )
    within = f"within your {limit:,.2f} limit on the gain a switch back may realise."
    if len(sentences) == 1:
        reason = sentences[0][:-1] + ", " + within
    else:
        reason = " ".join(sentences) + f" In total it realises {_gain_words(total)}, {within}"
    if result.notes[i]:
        reason += " " + str(result.notes[i])
    pid = int(book.portfolio_ids[i])
    return proposals.ProposalDraft(
        portfolio_id=pid,
        rule=RULE,
        reason=reason,
        prices_as_of=batch.prices_as_of[i].astype(dt.date),
        holdings_fingerprint=batch.fingerprint(pid),
        trades=drafts,
        before_weights=proposals.weights(book.classes, state.weights[i].tolist()),
        after_weights=proposals.weights(book.classes, result.weights_after[i].tolist()),
        target_weights=proposals.weights(book.classes, book.target[i].tolist()),
        drift=proposals.weights(book.classes, state.drift[i].tolist()),
        details={
            "rules_fired": [RULE],
            "switches": switches,
            "switch_back_max_gain": f"{limit:.2f}",
            "wash_sale_check": " ".join(checks),
            "class_names": {
                c: batch.class_names.get(c, c)
                for k, c in enumerate(book.classes)
                if book.target[i, k] > 0 or state.class_values[i, k] > 0
            },
            "prices": prices,
            "cash_before": f"{book.cash[i]:.2f}",
            "cash_after": f"{result.cash_after[i]:.2f}",
            "notes": str(result.notes[i]),
        },
        total_value=proposals.money(state.total[i]),
        est_short_term_gain=proposals.money(result.total_short_term_gain[i]),
        est_long_term_gain=proposals.money(result.total_long_term_gain[i]),
        est_tax=proposals.money(result.tax[i]),
        est_cost=proposals.money(result.total_cost[i]),
    )
