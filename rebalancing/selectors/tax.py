"""Each household's tax year: the investor's rates (federal + state), filing status, the losses
carried in and what was already realised in taxable accounts that year. The drift check, the
harvest scan, the proposal page and the methodology page read rates here, so an estimate is
always at the rates the investor sees in their settings. Two queries for any number of
households."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import models
from django.db.models import Sum

from accounts.models import InvestorProfile
from advisor.core import clock
from advisor.core.lookups import Ids
from portfolios.models import LotSale, Portfolio
from rebalancing.engine import tax
from rebalancing.engine.lots import RELIEF_CODES, ReliefMethod
from rebalancing.models import Proposal, ProposedTrade

COLUMNS = [
    "federal_short",
    "federal_long",
    "state",
    "short_rate",
    "long_rate",
    "married_separately",
    "limit",
    "carry_short",
    "carry_long",
    "realised_short",
    "realised_long",
    "relief",
]


def _default(name: str) -> float:
    field = InvestorProfile._meta.get_field(name)
    assert isinstance(field, models.Field)
    return float(field.get_default())


def households(
    user_ids: Iterable[int], *, year: int, exclude_transactions: Collection[str] = ()
) -> pd.DataFrame:
    """Per household (index: user id), the columns of `COLUMNS`: federal and state rates and
    the combined `short_rate` / `long_rate` (fractions; the profile's defaults without one),
    the deduction `limit` for the filing status, the carryovers entered for `year` (0 for
    another year), the gains realised in taxable accounts in `year` (signed), leaving out
    the sales of the ledger transactions whose external ids are in `exclude_transactions`,
    and the lot relief method (`relief`, `engine.lots.RELIEF_CODES`)."""
    index = pd.Index(np.unique(np.asarray(list(user_ids), dtype=np.int64)), name="user_id")
    frame = pd.DataFrame(index=index, columns=COLUMNS, dtype=float)
    frame["federal_short"] = _default("short_term_tax_rate")
    frame["federal_long"] = _default("long_term_tax_rate")
    frame["state"] = _default("state_tax_rate")
    frame[["carry_short", "carry_long", "realised_short", "realised_long"]] = 0.0
    frame["married_separately"] = False
    frame["relief"] = 0
    if not len(index):
        return frame.assign(short_rate=0.0, long_rate=0.0, limit=tax.LOSS_LIMIT)
    ids = Ids(index.tolist())
    fields = ["short_term_tax_rate", "long_term_tax_rate", "state_tax_rate", "filing_status"]
    carry_fields = ["carryover_short_term_loss", "carryover_long_term_loss", "carryover_tax_year"]
    for user, st, lt, state, status, cs, cl, carry_year, method in InvestorProfile.objects.filter(
        user_id__any=ids
    ).values_list("user_id", *fields, *carry_fields, "lot_relief_method"):
        frame.loc[user, "relief"] = RELIEF_CODES.get(ReliefMethod(method), 0)
        frame.loc[user, ["federal_short", "federal_long", "state"]] = [
            float(st), float(lt), float(state)
        ]  # fmt: skip
        frame.loc[user, "married_separately"] = (
            status == InvestorProfile.FilingStatus.MARRIED_SEPARATELY
        )
        if carry_year == year:
            frame.loc[user, ["carry_short", "carry_long"]] = [float(cs), float(cl)]
    sales = LotSale.objects.filter(
        transaction__portfolio__owner_id__any=ids,
        transaction__portfolio__tax_treatment=Portfolio.TaxTreatment.TAXABLE,
        transaction__trade_date__gte=dt.date(year, 1, 1),
        transaction__trade_date__lte=dt.date(year, 12, 31),
    )
    if exclude_transactions:
        sales = sales.exclude(transaction__external_id__in=list(exclude_transactions))
    for user, long_term, gain in (
        sales.values_list("transaction__portfolio__owner_id", "is_long_term")
        .annotate(total=Sum("gain"))
        .values_list("transaction__portfolio__owner_id", "is_long_term", "total")
        .order_by()
    ):
        frame.loc[user, "realised_long" if long_term else "realised_short"] = float(gain)
    frame["short_rate"] = frame["federal_short"] + frame["state"]
    frame["long_rate"] = frame["federal_long"] + frame["state"]
    frame["limit"] = tax.loss_limit(frame["married_separately"].to_numpy(dtype=bool))
    return frame


@dataclass(frozen=True)
class ProposalTax:
    """A proposal's estimated tax and how it was netted, for its page. `taxable` False (an
    IRA): no tax. Rates are fractions; amounts in currency (gains signed)."""

    year: int
    taxable: bool
    federal_short: float
    federal_long: float
    state: float
    short_rate: float
    long_rate: float
    limit: float
    realised_short: float
    realised_long: float
    carry_short: float
    carry_long: float
    proposal_short: float
    proposal_long: float
    estimate: tax.Estimate

    @property
    def tax(self) -> float:
        return float(self.estimate.tax[0]) if self.taxable else 0.0

    def lines(self) -> dict[str, float]:
        """The netting with the proposal (Schedule D after its sales), row 0 as floats."""
        after = self.estimate.after
        return {
            name: float(np.asarray(getattr(after, name)).reshape(-1)[0])
            for name in (
                "net_short_term", "net_long_term", "taxed_short_term", "taxed_long_term",
                "ordinary_deduction", "carry_short_term", "carry_long_term",
            )
        }  # fmt: skip


def _tax_year(proposal: Proposal) -> int:
    if proposal.executed_at is not None:
        return clock.local_date(proposal.executed_at).year
    return clock.today().year


def proposal_tax(proposal: Proposal) -> ProposalTax:
    """The tax `proposal`'s sales add to its year (the year it executed, else this year) at
    the investor's rates today, counting what the household realised that year without this
    proposal's own fills."""
    year = _tax_year(proposal)
    own_fills = {
        f"fill:{key}"
        for key in ProposedTrade.objects.filter(proposal=proposal).values_list(
            "idempotency_key", flat=True
        )
    }
    owner = proposal.portfolio.owner_id
    frame = households([owner], year=year, exclude_transactions=own_fills)
    row: dict[str, float] = {
        name: float(value)
        for name, value in zip(frame.columns, frame.to_numpy(dtype=float)[0].tolist(), strict=True)
    }
    st, lt = float(proposal.est_short_term_gain), float(proposal.est_long_term_gain)
    estimate = tax.estimate_tax(
        np.array([st]), np.array([lt]), short_rate=row["short_rate"], long_rate=row["long_rate"],
        realised_short_term=row["realised_short"], realised_long_term=row["realised_long"],
        carry_short=row["carry_short"], carry_long=row["carry_long"], limit=row["limit"],
    )  # fmt: skip
    names = (
        "federal_short", "federal_long", "state", "short_rate", "long_rate", "limit",
        "realised_short", "realised_long", "carry_short", "carry_long",
    )  # fmt: skip
    return ProposalTax(
        year=year,
        taxable=proposal.portfolio.tax_treatment == Portfolio.TaxTreatment.TAXABLE,
        proposal_short=st,
        proposal_long=lt,
        estimate=estimate,
        **{name: row[name] for name in names},
    )
