"""The yearly tax report: realised gains and losses, wash sales, harvested losses, Form 8949.

Only sales in taxable accounts are reportable (IRA and 401(k) sales are not on Form 8949). Each
`LotSale` is one 8949 row: proceeds, cost basis, and when a wash sale disallowed part of the
loss, code "W" with the disallowed amount as a positive adjustment, so that
gain = proceeds - basis + adjustment (IRS instructions for Form 8949, column (g)).
Short term (held one year or less, using the holding period carried over by wash sales) goes
to Part I, long term to Part II.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import DecimalField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import User
from portfolios.models import LotSale, Portfolio, WashSaleMatch
from rebalancing.models import Proposal, ProposedTrade

ZERO = Decimal("0.00")

FORM_8949_COLUMNS = [
    "Part",
    "(a) Description of property",
    "(b) Date acquired",
    "(c) Date sold or disposed of",
    "(d) Proceeds",
    "(e) Cost or other basis",
    "(f) Code(s)",
    "(g) Amount of adjustment",
    "(h) Gain or (loss)",
]


@dataclass(frozen=True)
class Row:
    portfolio: str
    ticker: str
    quantity: Decimal
    acquired_on: object
    sold_on: object
    proceeds: Decimal
    cost_basis: Decimal
    adjustment: Decimal  # wash-sale disallowed loss (code W), >= 0
    gain: Decimal
    long_term: bool
    permanent: bool  # the replacement was bought in an IRA: the loss is gone for good
    harvested: bool  # sold by an executed harvest proposal

    @property
    def code(self) -> str:
        return "W" if self.adjustment > 0 else ""

    @property
    def description(self) -> str:
        return f"{self.quantity.normalize():f} sh {self.ticker}"


@dataclass
class Totals:
    proceeds: Decimal = ZERO
    cost_basis: Decimal = ZERO
    adjustment: Decimal = ZERO
    gain: Decimal = ZERO
    rows: int = 0

    def add(self, row: Row) -> None:
        self.proceeds += row.proceeds
        self.cost_basis += row.cost_basis
        self.adjustment += row.adjustment
        self.gain += row.gain
        self.rows += 1


@dataclass
class TaxReport:
    year: int
    rows: list[Row] = field(default_factory=list)
    short_term: Totals = field(default_factory=Totals)
    long_term: Totals = field(default_factory=Totals)
    wash_sale_disallowed: Decimal = ZERO
    permanently_disallowed: Decimal = ZERO
    harvested_losses: Decimal = ZERO  # positive: losses realised by harvest proposals (after W)
    harvest_sales: int = 0

    @property
    def net_gain(self) -> Decimal:
        return self.short_term.gain + self.long_term.gain


def harvest_fill_ids(user: User) -> set[str]:
    """External ids of the ledger transactions that executed harvest sells (`fill:<key>`)."""
    keys = ProposedTrade.objects.filter(
        proposal__portfolio__owner=user,
        proposal__kind=Proposal.Kind.HARVEST,
        side=ProposedTrade.Side.SELL,
    ).values_list("idempotency_key", flat=True)
    return {f"fill:{k}" for k in keys}


def build(user: User, year: int, *, portfolio: Portfolio | None = None) -> TaxReport:
    """The report for `user`'s taxable accounts (or one of them) for calendar year `year`."""
    sales = LotSale.objects.filter(
        transaction__portfolio__owner=user,
        transaction__portfolio__tax_treatment=Portfolio.TaxTreatment.TAXABLE,
        transaction__trade_date__year=year,
    )
    if portfolio is not None:
        sales = sales.filter(transaction__portfolio=portfolio)
    sales = (
        sales.annotate(
            permanent_amount=Coalesce(
                Subquery(
                    WashSaleMatch.objects.filter(lot_sale=OuterRef("pk"), permanent=True)
                    .values("lot_sale")
                    .annotate(total=Sum("disallowed"))
                    .values("total")
                ),
                Value(ZERO),
                output_field=DecimalField(max_digits=18, decimal_places=2),
            )
        )
        .select_related("transaction__portfolio", "transaction__security", "lot")
        .order_by("transaction__trade_date", "transaction_id", "lot__acquired_on", "id")
    )
    harvest_ids = harvest_fill_ids(user)
    report = TaxReport(year=year)
    for sale in sales:
        txn = sale.transaction
        row = Row(
            portfolio=txn.portfolio.name,
            ticker=txn.security.ticker if txn.security else "",
            quantity=sale.quantity,
            acquired_on=sale.lot.acquired_on,
            sold_on=txn.trade_date,
            proceeds=sale.proceeds,
            cost_basis=sale.cost_basis,
            adjustment=sale.wash_sale_disallowed,
            gain=sale.gain,
            long_term=sale.is_long_term,
            permanent=sale.permanent_amount > 0,
            harvested=txn.external_id in harvest_ids,
        )
        report.rows.append(row)
        (report.long_term if row.long_term else report.short_term).add(row)
        report.wash_sale_disallowed += row.adjustment
        report.permanently_disallowed += sale.permanent_amount
        if row.harvested and row.gain < 0:
            report.harvested_losses += -row.gain
            report.harvest_sales += 1
    return report


def form_8949_csv(report: TaxReport) -> str:
    """Form 8949 rows as CSV: Part I (short term) first, then Part II (long term).

    Dates MM/DD/YYYY; amounts with two decimals, losses negative."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FORM_8949_COLUMNS)
    for part, long_term in (("I", False), ("II", True)):
        for row in report.rows:
            if row.long_term is not long_term:
                continue
            writer.writerow(
                [
                    part,
                    row.description,
                    f"{row.acquired_on:%m/%d/%Y}",
                    f"{row.sold_on:%m/%d/%Y}",
                    f"{row.proceeds:.2f}",
                    f"{row.cost_basis:.2f}",
                    row.code,
                    f"{row.adjustment:.2f}" if row.adjustment else "",
                    f"{row.gain:.2f}",
                ]
            )
    return out.getvalue()
