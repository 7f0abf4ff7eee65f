"""Proposal drafts: what a computation proposes, before the writer (`proposals`) stores it.

`from_trades` is the one builder of a rebalance draft from the engine's output
(`engine.trades.Trades`): the drift check's rules and the switch back after a harvest both
build their drafts here; the harvest scan fills `ProposalDraft` directly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from rebalancing.engine import drift, trades
from rebalancing.models import ProposedTrade

if TYPE_CHECKING:
    from rebalancing.selectors.drift import DriftBatch

QTY = Decimal("0.00000001")


def money(value: float) -> Decimal:
    """A computed amount (float) as Decimal cents, for a draft."""
    return Decimal(f"{value:.2f}")


def weights(codes: tuple[str, ...], row: Iterable[float]) -> dict[str, float]:
    """{class code: weight} of one portfolio's row, rounded, without the (near-)zero ones."""
    return {code: round(w, 6) for code, w in zip(codes, row, strict=True) if abs(w) > 5e-7}


@dataclass
class TradeDraft:
    """One proposed order. Money and quantities as Decimal (already quantized by the caller or
    quantized by the writer: quantity 8 places, price 6, amounts 2). `lots` is
    ``[{"lot": id, "quantity": "1.5"}, ...]`` for a sell. `sequence`: sells before buys."""

    security_id: int
    side: str  # ProposedTrade.Side value: "buy" | "sell"
    quantity: Decimal
    price: Decimal
    amount: Decimal | None = None
    lots: list[dict[str, Any]] = field(default_factory=list)
    est_short_term_gain: Decimal = Decimal("0")
    est_long_term_gain: Decimal = Decimal("0")
    est_cost: Decimal = Decimal("0")
    sequence: int = 0


@dataclass
class ProposalDraft:
    """A proposal to write. `holdings_fingerprint` must be the fingerprint of the holdings the
    computation read (`selectors.holdings`, or the batch's own rows)."""

    portfolio_id: int
    rule: str
    reason: str
    prices_as_of: dt.date
    holdings_fingerprint: str
    trades: list[TradeDraft]
    before_weights: dict[str, float] = field(default_factory=dict)
    after_weights: dict[str, float] = field(default_factory=dict)
    target_weights: dict[str, float] = field(default_factory=dict)
    drift: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    total_value: Decimal = Decimal("0")
    est_short_term_gain: Decimal = Decimal("0")
    est_long_term_gain: Decimal = Decimal("0")
    est_tax: Decimal = Decimal("0")
    est_cost: Decimal = Decimal("0")
    auto_approved: bool = False

    def content_key(self, kind: str) -> str:
        """Identity of what is proposed: same holdings, prices date, rule and trades -> same key."""
        trades = sorted(
            (t.security_id, t.side, str(Decimal(t.quantity).quantize(QTY))) for t in self.trades
        )
        payload = json.dumps(
            [
                kind,
                self.portfolio_id,
                self.holdings_fingerprint,
                self.prices_as_of.isoformat(),
                self.rule,
                trades,
            ]
        )
        return hashlib.sha256(payload.encode()).hexdigest()


class TradeRows:
    """The engine's trades grouped by portfolio, as Python lists converted once: indexing a
    numpy array element by element costs more than the formatting done with the value."""

    def __init__(self, result: trades.Trades, batch: DriftBatch) -> None:
        n = len(result.cash_after)
        order = np.argsort(result.portfolio, kind="stable")
        self.starts = np.searchsorted(result.portfolio[order], np.arange(n + 1)).tolist()
        self.order = order.tolist()
        lot_order = np.argsort(result.lot_trade, kind="stable")
        self.lot_starts = np.searchsorted(
            result.lot_trade[lot_order], np.arange(len(result.portfolio) + 1)
        ).tolist()
        self.lot_order = lot_order.tolist()
        self.security = result.security.tolist()
        self.buy = (result.side > 0).tolist()
        self.quantity = result.quantity.tolist()
        self.price = result.price.tolist()
        self.short_term_gain = result.short_term_gain.tolist()
        self.long_term_gain = result.long_term_gain.tolist()
        self.cost = result.cost.tolist()
        self.lot_id = batch.lots.lot_id[result.lot].tolist()
        self.lot_quantity = result.lot_quantity.tolist()
        self.lot_short_term_gain = result.lot_short_term_gain.tolist()
        self.lot_long_term_gain = result.lot_long_term_gain.tolist()
        # [price, date] each security's proposal records (one entry per security of the batch)
        self.price_used = [
            [f"{price:.6f}", str(day)]
            for price, day in zip(
                batch.book.prices.tolist(), batch.price_dates.tolist(), strict=True
            )
        ]

    def rows(self, i: int) -> list[int]:
        """Trade rows of portfolio `i`, sells first, as the engine lists them."""
        return self.order[self.starts[i] : self.starts[i + 1]]

    def reliefs(self, row: int) -> list[int]:
        return self.lot_order[self.lot_starts[row] : self.lot_starts[row + 1]]


def _trade(c: TradeRows, batch: DriftBatch, row: int, sequence: int) -> TradeDraft:
    lots = [
        {
            "lot": c.lot_id[m],
            "quantity": f"{c.lot_quantity[m]:.8f}",
            "short_term_gain": f"{c.lot_short_term_gain[m]:.2f}",
            "long_term_gain": f"{c.lot_long_term_gain[m]:.2f}",
        }
        for m in c.reliefs(row)
    ]
    return TradeDraft(
        security_id=batch.security_id_list[c.security[row]],
        side=ProposedTrade.Side.BUY if c.buy[row] else ProposedTrade.Side.SELL,
        quantity=Decimal(f"{c.quantity[row]:.8f}"),
        price=Decimal(f"{c.price[row]:.6f}"),
        lots=lots,
        est_short_term_gain=money(c.short_term_gain[row]),
        est_long_term_gain=money(c.long_term_gain[row]),
        est_cost=money(c.cost[row]),
        sequence=sequence,
    )


def from_trades(
    i: int,
    batch: DriftBatch,
    state: drift.Drift,
    result: trades.Trades,
    columns: TradeRows,
    *,
    rule: str,
    reason: str,
    details: dict[str, Any],
) -> ProposalDraft:
    """The rebalance draft of portfolio `i` of a drift batch from the engine's `result`: its
    trades with their lot reliefs, weights before / after / target, drift, cash, gains, tax
    and costs. `details` adds what the rule itself records (bands, switches, ...)."""
    book = batch.book
    rows = columns.rows(i)
    prices_used = {
        batch.tickers[columns.security[r]]: columns.price_used[columns.security[r]] for r in rows
    }
    classes = book.classes
    # before, after, target, drift, held: rounded to 6 places in one numpy call
    before, after, target, drifted, held = np.round(
        np.vstack(
            [state.weights[i], result.weights_after[i], book.target[i], state.drift[i],
             state.class_values[i]]
        ),
        6,
    ).tolist()  # fmt: skip
    totals = result.total_short_term_gain, result.total_long_term_gain, result.tax
    short_term, long_term, tax = (float(a[i]) for a in totals)
    pid = batch.portfolio_id_list[i]
    return ProposalDraft(
        portfolio_id=pid,
        rule=rule,
        reason=reason,
        prices_as_of=batch.prices_as_of[i].astype(dt.date),
        holdings_fingerprint=batch.fingerprint(pid),
        trades=[_trade(columns, batch, r, n) for n, r in enumerate(rows)],
        before_weights=weights(classes, before),
        after_weights=weights(classes, after),
        target_weights=weights(classes, target),
        drift=weights(classes, drifted),
        details={
            **details,
            "class_names": {
                code: batch.class_names.get(code, code)
                for code, t, v in zip(classes, target, held, strict=True)
                if t > 0 or v > 0
            },
            "prices": prices_used,
            "cash_before": f"{float(book.cash[i]):.2f}",
            "cash_after": f"{float(result.cash_after[i]):.2f}",
            "notes": str(result.notes[i]),
        },
        total_value=money(float(state.total[i])),
        est_short_term_gain=money(short_term),
        est_long_term_gain=money(long_term),
        est_tax=money(tax),
        est_cost=money(float(result.total_cost[i])),
    )
