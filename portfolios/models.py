"""Securities, prices, investment accounts (Portfolio), tax lots, the transaction ledger and goals.

Money is Decimal: cash and amounts to the cent (2 places), prices to 6 places, quantities to
8 places (fractional shares). Weights are fractions (0.25 == 25%).
"""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper

from rebalancing.engine import lots as lot_rules

if TYPE_CHECKING:
    from accounts.models import User

MONEY: dict[str, Any] = {"max_digits": 18, "decimal_places": 2}
PRICE: dict[str, Any] = {"max_digits": 18, "decimal_places": 6}
QUANTITY: dict[str, Any] = {"max_digits": 20, "decimal_places": 8}
WEIGHT: dict[str, Any] = {"max_digits": 7, "decimal_places": 6}


class AssetClass(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "name"]
        verbose_name_plural = "asset classes"

    def __str__(self) -> str:
        return self.name


class Security(models.Model):
    class Kind(models.TextChoices):
        ETF = "etf", "ETF"
        MUTUAL_FUND = "mutual_fund", "Mutual fund"
        STOCK = "stock", "Stock"
        MONEY_MARKET = "money_market", "Money market"

    ticker = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=200)
    asset_class = models.ForeignKey(AssetClass, on_delete=models.PROTECT, related_name="securities")
    currency = models.CharField(max_length=3, default="USD")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.ETF)
    expense_ratio = models.DecimalField(max_digits=6, decimal_places=5, default=Decimal("0"))
    allows_fractional = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["ticker"]
        verbose_name_plural = "securities"
        constraints = [
            models.CheckConstraint(
                condition=Q(ticker=Upper("ticker")), name="security_ticker_upper"
            ),
            models.CheckConstraint(
                condition=Q(expense_ratio__gte=0, expense_ratio__lt=1),
                name="security_expense_ratio_fraction",
            ),
        ]

    def __str__(self) -> str:
        return self.ticker


class Price(models.Model):
    """A daily close. The newest row per security is its latest price."""

    security = models.ForeignKey(Security, on_delete=models.CASCADE, related_name="prices")
    date = models.DateField()
    close = models.DecimalField(**PRICE)
    adjusted_close = models.DecimalField(**PRICE, null=True, blank=True)
    source = models.CharField(max_length=32, default="import")

    class Meta:
        ordering = ["security", "-date"]
        constraints = [
            models.UniqueConstraint(fields=["security", "date"], name="price_one_per_security_day"),
            models.CheckConstraint(condition=Q(close__gt=0), name="price_close_positive"),
            models.CheckConstraint(
                condition=Q(adjusted_close__isnull=True) | Q(adjusted_close__gt=0),
                name="price_adjusted_close_positive",
            ),
        ]
        # The unique constraint's index (security, date) serves "latest price per security".

    def __str__(self) -> str:
        return f"{self.security_id} {self.date} {self.close}"


class ModelPortfolio(models.Model):
    """A target allocation template, matched to a risk level 1 (safest) .. 10."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    risk_level = models.PositiveSmallIntegerField()
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["risk_level", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(risk_level__gte=1, risk_level__lte=10), name="model_risk_level_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ModelAllocation(models.Model):
    model = models.ForeignKey(ModelPortfolio, on_delete=models.CASCADE, related_name="allocations")
    asset_class = models.ForeignKey(AssetClass, on_delete=models.PROTECT, related_name="+")
    weight = models.DecimalField(**WEIGHT)
    security = models.ForeignKey(
        Security,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The security bought for this asset class.",
    )
    alternates = models.ManyToManyField(
        Security,
        blank=True,
        related_name="+",
        help_text="Replacements used when harvesting losses.",
    )

    class Meta:
        ordering = ["model", "-weight"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "asset_class"], name="model_allocation_unique_class"
            ),
            models.CheckConstraint(
                condition=Q(weight__gt=0, weight__lte=1), name="model_allocation_weight_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model}: {self.asset_class} {self.weight}"


class ModelVersion(models.Model):
    """One revision of a model portfolio built by a construction method: its weights (asset
    class code -> fraction), the method and every input it was built from, who built it and
    who reviewed it. A draft becomes the model's target (its `ModelAllocation` rows) only when
    a second staff member publishes it; the previously published version is then superseded."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        REJECTED = "rejected", "Rejected"
        SUPERSEDED = "superseded", "Superseded"

    model = models.ForeignKey(ModelPortfolio, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    method = models.CharField(max_length=32)
    inputs = models.JSONField(help_text="Assumptions, constraints, targets and views used.")
    weights = models.JSONField(help_text="Asset class code -> weight (fractions summing to 1).")
    expected_return = models.DecimalField(max_digits=8, decimal_places=6)
    volatility = models.DecimalField(max_digits=8, decimal_places=6)
    kkt_residual = models.FloatField()
    reason = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["model", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["model", "number"], name="model_version_unique_number"),
            models.UniqueConstraint(
                fields=["model"],
                condition=Q(status="published"),
                name="model_version_one_published",
            ),
            models.CheckConstraint(
                condition=Q(reviewer__isnull=True) | ~Q(reviewer=F("author")),
                name="model_version_reviewer_not_author",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} v{self.number} ({self.status})"


class PortfolioQuerySet(models.QuerySet["Portfolio"]):
    def for_user(self, user: "User") -> "PortfolioQuerySet":
        return self.filter(owner=user)

    def active(self) -> "PortfolioQuerySet":
        return self.filter(is_active=True)


class Portfolio(models.Model):
    """One investment account of a user. A user's portfolios together are the household.

    `reinvest_dividends`: the broker reinvests dividends automatically. Ex-dividend calendars
    are not modelled, so, conservatively, every security held in such an account counts as a
    purchase scheduled within the next 30 days for the whole household (see
    `rebalancing.selectors_harvest.scheduled_purchases`).
    """

    class TaxTreatment(models.TextChoices):
        TAXABLE = "taxable", "Taxable"
        TRADITIONAL_IRA = "traditional_ira", "Traditional IRA"
        ROTH_IRA = "roth_ira", "Roth IRA"
        K401 = "401k", "401(k)"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portfolios"
    )
    name = models.CharField(max_length=100)
    tax_treatment = models.CharField(
        max_length=16, choices=TaxTreatment.choices, default=TaxTreatment.TAXABLE
    )
    broker_name = models.CharField(max_length=100, blank=True)
    account_number_last4 = models.CharField(
        max_length=4, blank=True, help_text="Only the last four digits are stored."
    )
    base_currency = models.CharField(max_length=3, default="USD")
    cash = models.DecimalField(**MONEY, default=Decimal("0.00"))
    model = models.ForeignKey(
        ModelPortfolio,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="portfolios",
        help_text="Target allocation; when empty the custom targets apply.",
    )
    reinvest_dividends = models.BooleanField(
        "dividends reinvested automatically",
        default=False,
        help_text="The broker reinvests this account's dividends in the paying security (DRIP). "
        "Every security held here then counts as a purchase due within 30 days, so it is not "
        "harvested at a loss in any of your accounts.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PortfolioQuerySet.as_manager()

    class Meta:
        ordering = ["owner", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"], name="portfolio_unique_name_per_owner"
            ),
            models.CheckConstraint(condition=Q(cash__gte=0), name="portfolio_cash_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_tax_treatment_display()})"

    @property
    def is_taxable(self) -> bool:
        return self.tax_treatment == self.TaxTreatment.TAXABLE

    @property
    def masked_account_number(self) -> str:
        return f"····{self.account_number_last4}" if self.account_number_last4 else ""


class TargetAllocation(models.Model):
    """A custom target row, used when the portfolio has no model."""

    portfolio = models.ForeignKey(
        Portfolio, on_delete=models.CASCADE, related_name="custom_targets"
    )
    asset_class = models.ForeignKey(AssetClass, on_delete=models.PROTECT, related_name="+")
    weight = models.DecimalField(**WEIGHT)
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["portfolio", "asset_class"], name="target_unique_class"
            ),
            models.CheckConstraint(
                condition=Q(weight__gt=0, weight__lte=1), name="target_weight_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.portfolio_id}: {self.asset_class_id} {self.weight}"


class TaxLotQuerySet(models.QuerySet["TaxLot"]):
    def open(self) -> "TaxLotQuerySet":
        return self.filter(quantity__gt=0)

    def for_user(self, user: "User") -> "TaxLotQuerySet":
        return self.filter(portfolio__owner=user)


def basis_of_part(cost_basis: Decimal, quantity: Decimal, part: Decimal) -> Decimal:
    """The cost basis of `part` of the `quantity` shares of a lot, to the cent (the whole
    basis for the whole lot, so nothing is lost to rounding)."""
    if part == quantity:
        return cost_basis
    return (cost_basis * part / quantity).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class TaxLot(models.Model):
    """One purchase still (partly) held.

    `cost_basis` is the total basis of the remaining quantity, including any wash-sale
    adjustment; `holding_start` is the date the holding period counts from (the acquired date,
    or earlier when a wash sale carried a holding period over).
    """

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="lots")
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="lots")
    quantity = models.DecimalField(**QUANTITY)
    original_quantity = models.DecimalField(**QUANTITY)
    cost_basis = models.DecimalField(**MONEY)
    acquired_on = models.DateField()
    holding_start = models.DateField()
    wash_sale_adjustment = models.DecimalField(**MONEY, default=Decimal("0.00"))
    opened_by = models.ForeignKey(
        "Transaction", null=True, blank=True, on_delete=models.SET_NULL, related_name="opened_lots"
    )
    closed_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TaxLotQuerySet.as_manager()

    class Meta:
        ordering = ["portfolio", "security", "acquired_on", "id"]
        indexes = [
            models.Index(
                fields=["portfolio", "security"],
                name="lot_portfolio_security",
                condition=Q(quantity__gt=0),
            ),
            models.Index(fields=["security", "acquired_on"], name="lot_security_acquired"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=0), name="lot_quantity_not_negative"),
            models.CheckConstraint(
                condition=Q(original_quantity__gt=0), name="lot_original_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(quantity__lte=F("original_quantity")),
                name="lot_quantity_at_most_original",
            ),
            models.CheckConstraint(
                condition=Q(cost_basis__gte=0), name="lot_cost_basis_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(holding_start__lte=F("acquired_on")),
                name="lot_holding_start_not_after_acquired",
            ),
            models.CheckConstraint(
                condition=Q(quantity=0, closed_on__isnull=False)
                | Q(quantity__gt=0, closed_on__isnull=True),
                name="lot_closed_iff_empty",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.security_id} {self.quantity} @ {self.acquired_on}"

    @property
    def cost_per_share(self) -> Decimal:
        return (self.cost_basis / self.quantity) if self.quantity else Decimal("0")

    def is_long_term(self, on: dt.date) -> bool:
        """Held more than one year on `on` (IRS: the day after the one-year anniversary)."""
        return lot_rules.is_long_term_on(self.holding_start, on)


class Transaction(models.Model):
    """The ledger. `amount` is the signed cash effect on the portfolio (a buy is negative)."""

    class Kind(models.TextChoices):
        BUY = "buy", "Buy"
        SELL = "sell", "Sell"
        DIVIDEND = "dividend", "Dividend"
        INTEREST = "interest", "Interest"
        FEE = "fee", "Fee"
        DEPOSIT = "deposit", "Deposit"
        WITHDRAWAL = "withdrawal", "Withdrawal"
        TRANSFER_IN = "transfer_in", "Transfer in"
        TRANSFER_OUT = "transfer_out", "Transfer out"

    class Source(models.TextChoices):
        MANUAL = "manual", "Manual entry"
        IMPORT = "import", "CSV import"
        BROKER = "broker", "Broker execution"
        SEED = "seed", "Demo data"

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="transactions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    trade_date = models.DateField()
    security = models.ForeignKey(
        Security, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.DecimalField(**QUANTITY, null=True, blank=True)
    price = models.DecimalField(**PRICE, null=True, blank=True)
    fees = models.DecimalField(**MONEY, default=Decimal("0.00"))
    amount = models.DecimalField(**MONEY)
    lot_relief_method = models.CharField(max_length=16, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    external_id = models.CharField(
        max_length=100,
        null=True,
        blank=True,
        help_text="Idempotency key (broker fill, import row).",
    )
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["portfolio", "-trade_date", "-id"]
        indexes = [models.Index(fields=["portfolio", "trade_date"], name="txn_portfolio_date")]
        constraints = [
            models.UniqueConstraint(
                fields=["portfolio", "external_id"], name="txn_unique_external_id"
            ),
            models.CheckConstraint(
                condition=Q(quantity__isnull=True) | Q(quantity__gt=0), name="txn_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(price__isnull=True) | Q(price__gt=0), name="txn_price_positive"
            ),
            models.CheckConstraint(condition=Q(fees__gte=0), name="txn_fees_not_negative"),
            models.CheckConstraint(
                condition=~Q(kind__in=["buy", "sell"])
                | Q(security__isnull=False, quantity__isnull=False, price__isnull=False),
                name="txn_trade_has_security_quantity_price",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trade_date} {self.kind} {self.security_id or ''} {self.amount}"


class LotSale(models.Model):
    """The part of one lot a sell transaction relieved, with its realised gain.

    `gain` = proceeds - cost_basis + wash_sale_disallowed (a disallowed loss is added back).
    """

    transaction = models.ForeignKey(Transaction, on_delete=models.CASCADE, related_name="lot_sales")
    lot = models.ForeignKey(TaxLot, on_delete=models.PROTECT, related_name="sales")
    quantity = models.DecimalField(**QUANTITY)
    proceeds = models.DecimalField(**MONEY)
    cost_basis = models.DecimalField(**MONEY)
    gain = models.DecimalField(**MONEY)
    is_long_term = models.BooleanField()
    wash_sale_disallowed = models.DecimalField(**MONEY, default=Decimal("0.00"))

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="lot_sale_quantity_positive"),
            models.UniqueConstraint(
                fields=["transaction", "lot"], name="lot_sale_unique_lot_per_transaction"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of lot {self.lot_id} (gain {self.gain})"


# --- wash sales: which securities count as one, and what the ledger recorded ------------------
# (tables named rebalancing_* because they were created there; the ledger owns them now)


class SubstantiallyIdenticalGroup(models.Model):
    """Securities the wash-sale rule treats as one (e.g. share classes of the same fund, or two
    funds tracking the SAME index). Harvesting never swaps between members, and a loss sale of
    one member is washed by a purchase of any member."""

    name = models.CharField(max_length=100, unique=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        db_table = "rebalancing_substantiallyidenticalgroup"  # kept when it moved here
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IdenticalGroupMember(models.Model):
    group = models.ForeignKey(
        SubstantiallyIdenticalGroup, on_delete=models.CASCADE, related_name="members"
    )
    # A security belongs to at most one group: "identical" is an equivalence relation.
    security = models.OneToOneField(
        Security, on_delete=models.CASCADE, related_name="identical_group_member"
    )

    class Meta:
        db_table = "rebalancing_identicalgroupmember"

    def __str__(self) -> str:
        return f"{self.security_id} in {self.group_id}"


class WashSaleBlock(models.Model):
    """No purchase of `security` (or anything substantially identical to it) in any account of
    `household` through `until` (inclusive): a loss sale on day D blocks D .. D+30."""

    household = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wash_sale_blocks"
    )
    security = models.ForeignKey(Security, on_delete=models.CASCADE, related_name="+")
    until = models.DateField()
    reason = models.CharField(max_length=300)
    source_transaction = models.ForeignKey(
        Transaction, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "rebalancing_washsaleblock"
        ordering = ["-until"]
        indexes = [models.Index(fields=["household", "until"], name="washblock_household_until")]
        constraints = [
            models.UniqueConstraint(
                fields=["source_transaction", "security"], name="washblock_one_per_sale_security"
            ),
        ]

    def __str__(self) -> str:
        return f"Block {self.security_id} for {self.household_id} until {self.until}"


class WashSaleMatch(models.Model):
    """One wash sale: `quantity` shares of a loss sale (`lot_sale`) replaced by shares of
    `replacement_lot`. `disallowed` was added back to the sale's gain; unless `permanent`
    (replacement in an IRA), it was added to the replacement lot's basis and the sold shares'
    holding period (`holding_days_added`) carried over to it."""

    lot_sale = models.ForeignKey(LotSale, on_delete=models.CASCADE, related_name="wash_matches")
    replacement_lot = models.ForeignKey(
        TaxLot, on_delete=models.PROTECT, related_name="wash_matches"
    )
    quantity = models.DecimalField(**QUANTITY)
    disallowed = models.DecimalField(**MONEY)
    permanent = models.BooleanField(default=False)
    holding_days_added = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "rebalancing_washsalematch"
        ordering = ["lot_sale", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="wash_match_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(disallowed__gte=0), name="wash_match_disallowed_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"wash sale: {self.quantity} shares, {self.disallowed} disallowed"


class Goal(models.Model):
    class Kind(models.TextChoices):
        RETIREMENT = "retirement", "Retirement"
        HOME = "home", "Home purchase"
        EDUCATION = "education", "Education"
        EMERGENCY = "emergency", "Emergency fund"
        OTHER = "other", "Other"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="goals"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OTHER)
    target_amount = models.DecimalField(**MONEY)
    target_date = models.DateField()
    monthly_contribution = models.DecimalField(**MONEY, default=Decimal("0.00"))
    portfolios = models.ManyToManyField(Portfolio, blank=True, related_name="goals")
    priority = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user", "priority", "target_date"]
        constraints = [
            models.CheckConstraint(condition=Q(target_amount__gt=0), name="goal_target_positive"),
            models.CheckConstraint(
                condition=Q(monthly_contribution__gte=0), name="goal_contribution_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ImportBatch(models.Model):
    """One uploaded CSV: parsed and validated (preview), then written all at once (confirm).

    `rows` holds the normalised rows and their per-row errors as JSON so the preview can be
    shown again and the confirm step writes exactly what the user saw.
    """

    class Kind(models.TextChoices):
        LOTS = "lots", "Positions with tax lots"
        TRANSACTIONS = "transactions", "Transaction history"
        PRICES = "prices", "Daily prices"

    class Status(models.TextChoices):
        PREVIEW = "preview", "Waiting for confirmation"
        QUEUED = "queued", "Importing"
        INVALID = "invalid", "Has errors"
        IMPORTED = "imported", "Imported"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="import_batches",
        help_text="Who uploaded it; empty for a command-line price import.",
    )
    portfolio = models.ForeignKey(
        Portfolio, null=True, blank=True, on_delete=models.CASCADE, related_name="import_batches"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    layout = models.CharField(max_length=32)
    filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PREVIEW)
    row_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    file_errors = models.JSONField(default=list, blank=True)
    rows = models.JSONField(default=list, blank=True)
    sampled = models.BooleanField(
        default=False,
        help_text="A large file: the preview parsed its first rows only; the import task parses "
        "and checks the whole file (kept in `data` until then).",
    )
    data = models.BinaryField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(
        null=True, blank=True, help_text="When the import was confirmed and handed to a worker."
    )
    imported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="prices") | Q(portfolio__isnull=False),
                name="import_batch_portfolio_unless_prices",
            ),
            models.CheckConstraint(
                condition=~Q(status="imported") | Q(error_count=0, imported_at__isnull=False),
                name="import_batch_imported_only_when_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import {self.filename} ({self.status})"
