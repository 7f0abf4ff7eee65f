"""Tax-loss harvest candidates, pure numpy, vectorised over every open lot at once.

Conventions: quantities in shares, money in currency units (float64), rates and thresholds as
fractions (0.24 == 24%), dates numpy datetime64[D]. A "position" is one security in one
portfolio; a harvest sells whole lots of a position and buys a replacement for the same value.

The rule, per position in a taxable portfolio:
1. a lot qualifies when its unrealised loss (basis - quantity x price) is at least
   `min_loss_fraction` of its basis (lots in a gain or a small loss stay);
2. the qualifying lots' total loss must be at least `min_loss_amount` (the absolute threshold is
   applied to what one harvest trade realises, so an investor who buys monthly in small lots
   can still harvest);
3. expected benefit = sum(loss x rate) - trading costs must be at least `min_net_benefit`, where
   rate is the short-term rate for lots held one year or less and the long-term rate otherwise,
   and costs are a round trip (sell the lots, buy the replacement for the same value):
   2 x commission + 2 x value x cost_bps / 10,000.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from rebalancing.engine.lots import is_long_term


@dataclass(frozen=True)
class Positions:
    """Per harvestable position (one row per position that passes every threshold)."""

    key: np.ndarray  # the position key passed in (e.g. an index into a (portfolio, security) table)
    value: np.ndarray  # market value of the qualifying lots
    basis: np.ndarray
    loss_short: np.ndarray  # positive: short-term loss harvested
    loss_long: np.ndarray  # positive: long-term loss harvested
    tax_value: np.ndarray  # loss_short x st_rate + loss_long x lt_rate
    cost: np.ndarray  # round-trip trading cost
    benefit: np.ndarray  # tax_value - cost


@dataclass(frozen=True)
class Scan:
    selected: np.ndarray  # bool per lot: sold by a harvest of its position
    loss: np.ndarray  # per lot unrealised loss (positive = loss; negative = gain)
    long_term: np.ndarray  # per lot
    positions: Positions


def scan(
    *,
    position: np.ndarray,
    quantity: np.ndarray,
    cost_basis: np.ndarray,
    price: np.ndarray,
    holding_start: np.ndarray,
    on: np.datetime64,
    taxable: np.ndarray,
    st_rate: np.ndarray,
    lt_rate: np.ndarray,
    min_loss_fraction: np.ndarray,
    min_loss_amount: np.ndarray,
    min_net_benefit: np.ndarray,
    commission: float = 0.0,
    cost_bps: float = 0.0,
) -> Scan:
    """Find harvestable positions among all lots (one array element per lot).

    `position` is a non-negative integer key per lot (lots of one security in one portfolio
    share it). Per-investor settings (`st_rate`, `lt_rate`, thresholds) are given per lot
    (broadcast from the owner). Lots without a price (NaN) never qualify.
    """
    position = np.asarray(position, dtype=np.int64)
    quantity = np.asarray(quantity, dtype=float)
    basis = np.asarray(cost_basis, dtype=float)
    price = np.asarray(price, dtype=float)
    value = quantity * price
    loss = basis - value
    long_term = is_long_term(np.asarray(holding_start, dtype="datetime64[D]"), on)
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(basis > 0, loss / basis, 0.0)
    qualifies = (
        np.asarray(taxable, dtype=bool)
        & np.isfinite(value)
        & (quantity > 0)
        & (loss > 0)
        & (fraction >= np.asarray(min_loss_fraction, dtype=float))
    )
    empty = np.zeros(0)
    if not qualifies.any():
        return Scan(qualifies, loss, long_term, Positions(empty.astype(np.int64), *([empty] * 7)))

    keys, inverse = np.unique(position[qualifies], return_inverse=True)
    n = keys.size
    q_loss, q_lt = loss[qualifies], long_term[qualifies]
    loss_short = np.bincount(inverse, weights=np.where(q_lt, 0.0, q_loss), minlength=n)
    loss_long = np.bincount(inverse, weights=np.where(q_lt, q_loss, 0.0), minlength=n)
    pos_value = np.bincount(inverse, weights=value[qualifies], minlength=n)
    pos_basis = np.bincount(inverse, weights=basis[qualifies], minlength=n)
    # Settings are per owner, so any lot of the position carries the position's settings.
    first = np.zeros(n, dtype=np.int64)
    first[inverse[::-1]] = np.arange(inverse.size)[::-1]

    def per_position(values: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=float)[qualifies][first]

    tax_value = loss_short * per_position(st_rate) + loss_long * per_position(lt_rate)
    cost = 2.0 * commission + 2.0 * pos_value * cost_bps / 10_000.0
    benefit = tax_value - cost
    keep = ((loss_short + loss_long) >= per_position(min_loss_amount)) & (
        benefit >= per_position(min_net_benefit)
    )
    kept_keys = keys[keep]
    selected = qualifies & np.isin(position, kept_keys)
    return Scan(
        selected=selected,
        loss=loss,
        long_term=long_term,
        positions=Positions(
            key=kept_keys,
            value=pos_value[keep],
            basis=pos_basis[keep],
            loss_short=loss_short[keep],
            loss_long=loss_long[keep],
            tax_value=tax_value[keep],
            cost=cost[keep],
            benefit=benefit[keep],
        ),
    )


# --- wash-sale guard and replacement choice -------------------------------------------------

RECENT_PURCHASE = "recent_purchase"
SCHEDULED_PURCHASE = "scheduled_purchase"
DIVIDEND_REINVESTMENT = "dividend_reinvestment"
NO_REPLACEMENT = "no_replacement"


@dataclass(frozen=True)
class Candidate:
    household: int
    portfolio: int
    security: int
    benefit: float
    lots: frozenset[int] = frozenset()  # lots the harvest sells in full


@dataclass
class Decisions:
    accepted: dict[tuple[int, int], int] = field(
        default_factory=dict
    )  # (portfolio, security) -> replacement
    skipped: dict[tuple[int, int], str] = field(
        default_factory=dict
    )  # (portfolio, security) -> reason


def resolve(
    candidates: Sequence[Candidate],
    *,
    group_of: Mapping[int, int],
    recent_purchases: Mapping[tuple[int, int], Iterable[int]],
    scheduled_purchases: set[tuple[int, int]],
    blocked_buys: set[tuple[int, int]],
    replacements: Mapping[int, Sequence[int]],
    priced: set[int],
    reinvested: set[tuple[int, int]] | frozenset[tuple[int, int]] = frozenset(),
) -> Decisions:
    """Decide which candidates become harvests and what each buys, household by household.

    `group_of` maps a security to its substantially-identical key (itself when ungrouped).
    `recent_purchases[(household, group)]`: lot ids acquired in the past 30 days in any account;
    `scheduled_purchases`: (household, group) with a buy pending in the next 30 days;
    `blocked_buys`: (household, group) that may not be bought (a loss sale in the past 30 days);
    `reinvested`: (household, group) held in an account that reinvests dividends automatically
    (a purchase at every dividend; reported as DIVIDEND_REINVESTMENT, ahead of other scheduled
    purchases).
    Candidates are taken by benefit, largest first; each accepted harvest makes its sold group
    unbuyable and its replacement's group unsellable for the rest of the pass, so two harvests
    in one household can never wash each other.
    """
    decisions = Decisions()
    sold: set[tuple[int, int]] = set()
    bought: set[tuple[int, int]] = set()
    order = sorted(candidates, key=lambda c: (c.household, -c.benefit, c.portfolio, c.security))
    for c in order:
        key = (c.portfolio, c.security)
        group = group_of.get(c.security, c.security)
        hg = (c.household, group)
        # The lots being sold are not their own replacement; any other recent buy washes.
        if set(recent_purchases.get(hg, ())) - c.lots:
            decisions.skipped[key] = RECENT_PURCHASE
            continue
        if hg in reinvested:
            decisions.skipped[key] = DIVIDEND_REINVESTMENT
            continue
        if hg in scheduled_purchases or hg in bought:
            decisions.skipped[key] = SCHEDULED_PURCHASE
            continue
        choice = None
        for r in replacements.get(c.security, ()):
            rg = (c.household, group_of.get(r, r))
            if rg[1] == group or rg in blocked_buys or rg in sold or r not in priced:
                continue
            choice = r
            break
        if choice is None:
            decisions.skipped[key] = NO_REPLACEMENT
            continue
        decisions.accepted[key] = choice
        sold.add(hg)
        bought.add((c.household, group_of.get(choice, choice)))
    return decisions
