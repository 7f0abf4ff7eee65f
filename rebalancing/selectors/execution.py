"""What an execution did, read back from the ledger: the summary on the proposal page and in
the "executed" notification (one function, so both say the same)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Sum

from portfolios.models import LotSale, Portfolio, Transaction
from rebalancing.models import Proposal, ProposedTrade

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


def summary(proposal: Proposal) -> dict[str, Any]:
    """{"sold": [...], "bought": [...], "short_term_gain", "long_term_gain", "commissions",
    "spread", "costs", "cash_left"}: money as strings with 2 places (JSON-safe, stored in the
    proposal's details when the execution finishes). Realised gains are the lot sales the fills
    booked (a wash sale's disallowed loss is already added back to its gain); spread is what the fills cost against the
    prices the proposal used."""
    trades = list(
        proposal.trades.filter(filled_quantity__gt=0)
        .select_related("security")
        .order_by("sequence", "pk")
    )
    keys = [f"fill:{t.idempotency_key}" for t in trades]
    fills = Transaction.objects.filter(portfolio_id=proposal.portfolio_id, external_id__in=keys)
    sales = LotSale.objects.filter(transaction__in=fills)
    short = sales.filter(is_long_term=False).aggregate(gain=Sum("gain"))["gain"] or ZERO
    long = sales.filter(is_long_term=True).aggregate(gain=Sum("gain"))["gain"] or ZERO
    commissions = fills.aggregate(total=Sum("fees"))["total"] or ZERO
    spread = sum(
        (
            (abs(t.fill_price - t.price) * t.filled_quantity).quantize(CENT)
            for t in trades
            if t.fill_price is not None
        ),
        ZERO,
    )
    cash = Portfolio.objects.values_list("cash", flat=True).get(pk=proposal.portfolio_id)

    def line(t: ProposedTrade) -> dict[str, str]:
        assert t.fill_price is not None
        return {
            "ticker": t.security.ticker,
            "name": t.security.name,
            "shares": f"{t.filled_quantity.normalize():f}",
            "price": f"{t.fill_price:.2f}",
            "amount": f"{(t.filled_quantity * t.fill_price).quantize(CENT):.2f}",
        }

    return {
        "sold": [line(t) for t in trades if t.side == ProposedTrade.Side.SELL],
        "bought": [line(t) for t in trades if t.side == ProposedTrade.Side.BUY],
        "short_term_gain": f"{short:.2f}",
        "long_term_gain": f"{long:.2f}",
        "commissions": f"{commissions:.2f}",
        "spread": f"{spread:.2f}",
        "costs": f"{commissions + spread:.2f}",
        "cash_left": f"{cash:.2f}",
    }
