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
from typing import TYPE_CHECKING

import numpy as np

from advisor.core import dates
from rebalancing.engine import drift, switch_back, trades
from rebalancing.engine.wash_sales import WINDOW_DAYS
from rebalancing.selectors import drift as selectors
from rebalancing.services import drafts

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

    No query: the policies' limits, the identical groups and the wash-sale guard of the
    households that may trade are already in the batch (`selectors.load_for_trading`).
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

    max_gain = batch.switch_back_max_gain
    groups = batch.groups
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
        group=np.array([groups.key(s) for s in batch.security_id_list], dtype=np.int64),
    )
    switched: set[int] = set()
    columns = drafts.TradeRows(result, batch)
    for i in np.flatnonzero(result.count() > 0):
        r = by_id[int(book.portfolio_ids[i])]
        draft = _draft(int(i), batch, state, result, columns, float(max_gain[i]), today)
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
    columns: drafts.TradeRows,
    limit: float,
    today: dt.date,
) -> drafts.ProposalDraft:
    book, ticker = batch.book, batch.tickers
    sold_by_class: dict[int, list[int]] = {}
    gain_by_class: dict[int, float] = {}
    for r in columns.rows(i):
        if not columns.buy[r]:
            s = columns.security[r]
            k = int(book.security_class[s])
            sold_by_class.setdefault(k, []).append(s)
            gain = columns.short_term_gain[r] + columns.long_term_gain[r]
            gain_by_class[k] = gain_by_class.get(k, 0.0) + gain
    sentences, switches, checks = [], [], []
    total = float(result.total_short_term_gain[i] + result.total_long_term_gain[i])
    since = today - dt.timedelta(days=WINDOW_DAYS)
    for k, sold in sorted(sold_by_class.items()):
        preferred = ticker[int(book.target_security[i, k])]
        names = " and ".join(ticker[s] for s in sold)
        class_name = batch.class_names.get(book.classes[k], book.classes[k])
        sentences.append(
            f"{names} {'has' if len(sold) == 1 else 'have'} been held for over {WINDOW_DAYS} days "
            f"in place of {preferred}, the security your target buys for {class_name} (for "
            "example as a tax-loss harvest replacement); switching back realises "
            f"{_gain_words(gain_by_class[k])}."
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
            f"{dates.day(since)} and none of its dividends are reinvested; {preferred} was not sold "
            f"at a loss in the past {WINDOW_DAYS} days and no harvest of it is waiting."
        )
    within = f"within your {limit:,.2f} limit on the gain a switch back may realise."
    if len(sentences) == 1:
        reason = sentences[0][:-1] + ", " + within
    else:
        reason = " ".join(sentences) + f" In total it realises {_gain_words(total)}, {within}"
    if result.notes[i]:
        reason += " " + str(result.notes[i])
    return drafts.from_trades(
        i,
        batch,
        state,
        result,
        columns,
        rule=RULE,
        reason=reason,
        details={
            "rules_fired": [RULE],
            "switches": switches,
            "switch_back_max_gain": f"{limit:.2f}",
            "wash_sale_check": " ".join(checks),
        },
    )
