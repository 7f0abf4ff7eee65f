"""The household's "tax saved" ledger: the tax value of every executed harvest, and of the
short-term gains a rebalance left unrealised because its policy holds such lots back.

`record_tax_saving` runs inside the transaction that finishes an execution (execution._finish,
under the proposal's row lock), so the row exists exactly when the proposal is executed or
partly executed; the one-to-one key on the proposal makes a second call a no-op.

Value = taxable short-term loss x the investor's short-term rate + taxable long-term loss x
the long-term rate, at the rates on the day, minus costs: commissions paid and the distance of
each fill from the price the proposal was made at (slippage), on the shares filled. Taxable
losses are the LotSale gains (a wash-sale disallowed loss is already added back), netted per
term: a harvest that also sold a lot at a gain counts the net loss.

A rebalance: the engine's estimate, at proposal time, of the short-term gain the same sale
would have realised from the held-back lots (`details["short_term_gain_held_back"]`), valued
at the difference between the short- and long-term rates: what selling after a year saves.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from accounts.models import InvestorProfile
from advisor.core import clock
from portfolios.ledger import money
from portfolios.models import LotSale, Transaction
from rebalancing.models import Proposal, TaxSaving

ZERO = Decimal("0.00")


def _rates(user_id: int) -> tuple[Decimal, Decimal]:
    profile = InvestorProfile.objects.filter(user_id=user_id).first()
    if profile is None:
        fields = {f.name: f for f in InvestorProfile._meta.fields}
        return (
            Decimal(fields["short_term_tax_rate"].default),
            Decimal(fields["long_term_tax_rate"].default),
        )
    return profile.combined_rates()


def record_tax_saving(proposal: Proposal) -> TaxSaving | None:
    """Write the tax value of an executed proposal, if any (inside the finishing transaction)."""
    if proposal.kind == Proposal.Kind.HARVEST:
        return _record_harvest(proposal)
    deferred = Decimal(str((proposal.details or {}).get("short_term_gain_held_back") or 0))
    if deferred <= 0:
        return None
    short_rate, long_rate = _rates(proposal.portfolio.owner_id)
    saving, _ = TaxSaving.objects.get_or_create(
        proposal=proposal,
        defaults={
            "household_id": proposal.portfolio.owner_id,
            "realised_on": clock.today(),
            "short_term_loss": ZERO,
            "long_term_loss": ZERO,
            "short_term_rate": short_rate,
            "long_term_rate": long_rate,
            "costs": ZERO,
            "short_term_gain_deferred": money(deferred),
            "amount": money(deferred * max(short_rate - long_rate, ZERO)),
        },
    )
    return saving


def _record_harvest(proposal: Proposal) -> TaxSaving:
    trades = list(proposal.trades.all())
    fills = Transaction.objects.filter(
        portfolio_id=proposal.portfolio_id,
        external_id__in=[f"fill:{t.idempotency_key}" for t in trades],
    )
    by_term = dict(
        LotSale.objects.filter(transaction__in=fills)
        .values_list("is_long_term")
        .annotate(total=Sum("gain"))
        .values_list("is_long_term", "total")
    )
    short_loss = max(-(by_term.get(False) or ZERO), ZERO)
    long_loss = max(-(by_term.get(True) or ZERO), ZERO)
    commissions = fills.aggregate(total=Sum("fees"))["total"] or ZERO
    slippage = sum(
        (
            abs(t.fill_price - t.price) * t.filled_quantity
            for t in trades
            if t.fill_price is not None and t.filled_quantity > 0
        ),
        ZERO,
    )
    short_rate, long_rate = _rates(proposal.portfolio.owner_id)
    costs = money(commissions + slippage)
    saving, _ = TaxSaving.objects.get_or_create(
        proposal=proposal,
        defaults={
            "household_id": proposal.portfolio.owner_id,
            "realised_on": clock.today(),
            "short_term_loss": money(short_loss),
            "long_term_loss": money(long_loss),
            "short_term_rate": short_rate,
            "long_term_rate": long_rate,
            "costs": costs,
            "amount": money(short_loss * short_rate + long_loss * long_rate - costs),
        },
    )
    return saving
