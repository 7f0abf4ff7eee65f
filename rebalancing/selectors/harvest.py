"""Reads for harvesting and the wash-sale guard. Plain data out; a fixed number of queries.

`blocked_purchases(user_ids, on)` is the contract with the rebalancer's trade generation:
every (user_id, security_id) in the result must not be bought on `on` in any account of that
household, because the security (or one substantially identical to it) was sold at a loss in
the past 30 days, or a harvest proposal that sells it is waiting or being executed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd
from django.db import models

from accounts.models import InvestorProfile
from advisor.core.lookups import Ids
from portfolios import selectors as portfolio_selectors
from portfolios.models import Portfolio, TaxLot, WashSaleBlock
from rebalancing.engine.wash_sales import WINDOW_DAYS
from rebalancing.models import HarvestSettings, Proposal, ProposedTrade, ReplacementPair

# Proposals whose trades have not happened yet but will unless someone says no.
OPEN_STATUSES = (Proposal.Status.PENDING, Proposal.Status.APPROVED, Proposal.Status.EXECUTING)


def recent_purchases(accounts: dict[int, int], on: dt.date) -> list[tuple[int, int, int]]:
    """(household, security, lot id) of every lot acquired in the past 30 days (the wash-sale
    window, `on` included) in any of the `accounts` ({portfolio id: household}, IRAs
    included): selling that security at a loss on `on` would be a wash sale. One query."""
    rows = (
        TaxLot.objects.filter(
            portfolio_id__any=Ids(accounts),
            acquired_on__range=(on - dt.timedelta(days=WINDOW_DAYS), on),
        )
        .order_by()
        .values_list("portfolio_id", "security_id", "id")
    )
    return [(accounts[pid], sid, lot_id) for pid, sid, lot_id in rows]


def household_accounts(user_ids: Iterable[int] | Ids) -> dict[int, int]:
    """{portfolio id: household} for every account (active or not, IRAs included) of the
    households: the wash-sale scope. One query."""
    return dict(
        Portfolio.objects.filter(owner_id__any=Ids(user_ids))
        .order_by()
        .values_list("id", "owner_id")
    )


def _open_trades(
    accounts: dict[int, int],
    side: str,
    *,
    kind: str | None = None,
    exclude_pending_harvest_of: Iterable[int] = (),
) -> list[tuple[int, int]]:
    """(household, security) of the `side` trades of the accounts' open proposals. Two small
    queries by ids: the open proposals, then their trades (a join lets PostgreSQL scan the
    whole trade history instead)."""
    open_ = Proposal.objects.filter(portfolio_id__any=Ids(accounts), status__in=OPEN_STATUSES)
    if kind is not None:
        open_ = open_.filter(kind=kind)
    excluded = list(exclude_pending_harvest_of)
    if excluded:
        open_ = open_.exclude(
            kind=Proposal.Kind.HARVEST,
            status=Proposal.Status.PENDING,
            portfolio_id__any=Ids(excluded),
        )
    portfolio_of = dict(open_.order_by().values_list("id", "portfolio_id"))
    if not portfolio_of:
        return []
    rows = (
        ProposedTrade.objects.filter(proposal_id__any=Ids(portfolio_of), side=side)
        .order_by()
        .values_list("proposal_id", "security_id")
    )
    return [(accounts[portfolio_of[pid]], sid) for pid, sid in rows]


def blocked_purchases(
    user_ids: Iterable[int] | Ids,
    on: dt.date,
    *,
    accounts: dict[int, int] | None = None,
    groups: portfolio_selectors.IdenticalGroups | None = None,
) -> set[tuple[int, int]]:
    """(user_id, security_id) pairs that may not be bought on `on` (see the module docstring).

    `accounts` ({portfolio id: household}, from `household_accounts(user_ids)`) saves a query
    when the caller has it. Four or five queries.
    """
    ids = Ids(user_ids)
    if accounts is None:
        accounts = household_accounts(ids)
    # By the accounts' ids: joining back to the portfolio table for its owner makes
    # PostgreSQL scan it whole for a batch of thousands of households.
    pairs = _open_trades(accounts, ProposedTrade.Side.SELL, kind=Proposal.Kind.HARVEST)
    blocks = WashSaleBlock.objects.filter(until__gte=on, household_id__any=ids).order_by()
    pairs += list(blocks.values_list("household_id", "security_id"))
    return (groups or portfolio_selectors.identical_groups()).expand(pairs)


def dividend_reinvestments(
    user_ids: Iterable[int] | Ids, *, accounts: dict[int, int] | None = None
) -> dict[tuple[int, int], str]:
    """(user_id, security_id) -> name of an account of that household that holds the security
    and reinvests its dividends automatically (`Portfolio.reinvest_dividends`); the first name
    in alphabetical order when several do. Two queries, one when no account reinvests
    (`accounts` as in `blocked_purchases`).

    Ex-dividend calendars are not modelled: conservatively, every security held in such an
    account counts as bought within the next 30 days (a reinvested dividend is a purchase, and
    would make a loss sale of the security anywhere in the household a wash sale).
    """
    if accounts is None:
        accounts = household_accounts(user_ids)
    # The few reinvesting accounts first, then only their lots (usually there are none).
    reinvesting = list(
        Portfolio.objects.filter(pk__any=Ids(accounts), reinvest_dividends=True)
        .order_by()
        .values_list("id", flat=True)
    )
    if not reinvesting:
        return {}
    lots = TaxLot.objects.filter(quantity__gt=0, portfolio_id__any=Ids(reinvesting))
    out: dict[tuple[int, int], str] = {}
    for uid, sid, name in (
        lots.order_by("portfolio__owner_id", "security_id", "portfolio__name")
        .values_list("portfolio__owner_id", "security_id", "portfolio__name")
        .distinct()
    ):
        out.setdefault((uid, sid), name)
    return out


def scheduled_purchases(
    user_ids: Iterable[int] | Ids,
    *,
    exclude_pending_harvest_of: Iterable[int] = (),
    accounts: dict[int, int] | None = None,
) -> dict[tuple[int, int], str]:
    """(user_id, security_id) the household is due to buy within 30 days -> why: the name of
    the account that reinvests the security's dividends (see `dividend_reinvestments`), or ""
    for a buy trade of an open proposal. Works like a set of pairs (`in`, iteration). Two to
    four queries (`accounts` as in `blocked_purchases`).

    Pending harvest proposals of the portfolios in `exclude_pending_harvest_of` are left out (a
    scan that is about to replace them)."""
    if accounts is None:
        accounts = household_accounts(user_ids)
    buys = _open_trades(
        accounts, ProposedTrade.Side.BUY, exclude_pending_harvest_of=exclude_pending_harvest_of
    )
    out = dict.fromkeys(buys, "")
    out.update(dividend_reinvestments(user_ids, accounts=accounts))
    return out


def replacements() -> dict[int, list[int]]:
    """security -> its active replacements, best first."""
    out: dict[int, list[int]] = {}
    for sid, rid in (
        ReplacementPair.objects.filter(is_active=True, replacement__is_active=True)
        .order_by("security_id", "priority", "id")
        .values_list("security_id", "replacement_id")
    ):
        out.setdefault(sid, []).append(rid)
    return out


def _field(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field), name  # a column, not a reverse relation
    return field


def _default(model: type[models.Model], name: str) -> float:
    return float(_field(model, name).default)


SETTING_COLUMNS = [
    "enabled",
    "min_loss_amount",
    "min_loss_fraction",
    "min_net_benefit",
    "st_rate",
    "lt_rate",
]


def settings_frame(
    owner_ids: Iterable[int], *, owner_range: tuple[int, int] | None = None
) -> pd.DataFrame:
    """Per household: enabled, min_loss_amount, min_loss_fraction, min_net_benefit, st_rate,
    lt_rate (federal + state; the model fields' defaults where the investor has no row),
    indexed by owner id.
    Two queries; `owner_range` (inclusive) replaces a long id list."""
    index = pd.Index(np.unique(np.asarray(list(owner_ids), dtype=np.int64)), name="owner_id")
    frame = pd.DataFrame(
        {
            "enabled": np.ones(len(index), dtype=bool),
            "min_loss_amount": _default(HarvestSettings, "min_loss_amount"),
            "min_loss_fraction": _default(HarvestSettings, "min_loss_fraction"),
            "min_net_benefit": _default(HarvestSettings, "min_net_benefit"),
            "st_rate": _default(InvestorProfile, "short_term_tax_rate"),
            "lt_rate": _default(InvestorProfile, "long_term_tax_rate"),
        },
        index=index,
    )

    def rows(model: type[models.Model], fields: list[str]) -> pd.DataFrame:
        qs = model._default_manager.all()
        if owner_range is not None:
            qs = qs.filter(user_id__gte=owner_range[0], user_id__lte=owner_range[1])
        else:
            qs = qs.filter(user_id__in=index.tolist())
        found = pd.DataFrame(list(qs.values_list("user_id", *fields)), columns=["user_id", *fields])
        return found[found["user_id"].isin(index)].set_index("user_id")

    custom = rows(
        HarvestSettings, ["enabled", "min_loss_amount", "min_loss_fraction", "min_net_benefit"]
    )
    if len(custom):
        frame.loc[custom.index, "enabled"] = custom["enabled"].astype(bool)
        for col in ("min_loss_amount", "min_loss_fraction", "min_net_benefit"):
            frame.loc[custom.index, col] = custom[col].astype(float)
    frame["st_rate"] += _default(InvestorProfile, "state_tax_rate")
    frame["lt_rate"] += _default(InvestorProfile, "state_tax_rate")
    profiles = rows(
        InvestorProfile, ["short_term_tax_rate", "long_term_tax_rate", "state_tax_rate"]
    )
    if len(profiles):
        # Federal + state, as InvestorProfile.combined_rates.
        state = profiles["state_tax_rate"].astype(float)
        frame.loc[profiles.index, "st_rate"] = profiles["short_term_tax_rate"].astype(float) + state
        frame.loc[profiles.index, "lt_rate"] = profiles["long_term_tax_rate"].astype(float) + state
    return frame
