"""Rebalancing policies, scan runs, proposals and their trades.

Weights and bands are fractions (0.05 == 5 percentage points).
"""

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models, transaction
from django.db.models import Exists, F, OuterRef, Q

from accounts import audit
from advisor.core.lookups import Ids
from portfolios.models import (
    MONEY,
    PRICE,
    QUANTITY,
    ModelPortfolio,
    ModelVersion,
    Portfolio,
    Security,
)

if TYPE_CHECKING:
    from accounts.models import User


class RebalancePolicy(models.Model):
    """When a portfolio is rebalanced and how. A portfolio's own policy wins over its model's
    default policy; with neither, the built-in defaults (a fresh `RebalancePolicy()`) apply."""

    class Frequency(models.TextChoices):
        NONE = "none", "No calendar rebalancing"
        MONTHLY = "monthly", "Monthly"
        QUARTERLY = "quarterly", "Quarterly"
        SEMIANNUAL = "semiannual", "Semi-annually"
        ANNUAL = "annual", "Annually"

    class Target(models.TextChoices):
        FULL = "full", "All the way back to target"
        BAND_EDGE = "band_edge", "Only back to the band edge"

    portfolio = models.OneToOneField(
        Portfolio, null=True, blank=True, on_delete=models.CASCADE, related_name="rebalance_policy"
    )
    model = models.OneToOneField(
        ModelPortfolio,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="default_policy",
    )
    calendar_frequency = models.CharField(
        max_length=16, choices=Frequency.choices, default=Frequency.NONE
    )
    calendar_day = models.PositiveSmallIntegerField(
        default=1, help_text="Day of the month the calendar rule fires."
    )
    absolute_band = models.DecimalField(
        max_digits=6, decimal_places=4, null=True, blank=True, default=Decimal("0.05")
    )
    relative_band = models.DecimalField(
        max_digits=6, decimal_places=4, null=True, blank=True, default=Decimal("0.25")
    )
    cash_flow_enabled = models.BooleanField(default=True)
    volatility_adjusted = models.BooleanField(default=False)
    rebalance_to = models.CharField(max_length=16, choices=Target.choices, default=Target.FULL)
    min_trade_amount = models.DecimalField(**MONEY, default=Decimal("50.00"))
    cash_buffer = models.DecimalField(max_digits=6, decimal_places=4, default=Decimal("0.0100"))
    allow_short_term_gains = models.BooleanField(default=False)
    max_tax_cost = models.DecimalField(**MONEY, null=True, blank=True)
    auto_approve_cash_flow_below = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="Auto-approve cash deployments below this amount (off when empty).",
    )
    switch_back_max_gain = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        default=Decimal("0.00"),
        help_text="After a harvest, switch back from the replacement to the target's security "
        "once the 30-day wash-sale window has passed, if the switch realises a gain of at most "
        "this amount (0: only at a loss or no gain; empty: never switch back).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "rebalance policies"
        constraints = [
            models.CheckConstraint(
                condition=Q(portfolio__isnull=False, model__isnull=True)
                | Q(portfolio__isnull=True, model__isnull=False),
                name="policy_belongs_to_portfolio_or_model",
            ),
            models.CheckConstraint(
                condition=Q(calendar_day__gte=1, calendar_day__lte=28),
                name="policy_calendar_day_range",
            ),
            models.CheckConstraint(
                condition=Q(absolute_band__isnull=True) | Q(absolute_band__gt=0),
                name="policy_absolute_band_positive",
            ),
            models.CheckConstraint(
                condition=Q(relative_band__isnull=True) | Q(relative_band__gt=0),
                name="policy_relative_band_positive",
            ),
            models.CheckConstraint(
                condition=Q(cash_buffer__gte=0, cash_buffer__lt=1),
                name="policy_cash_buffer_fraction",
            ),
            models.CheckConstraint(
                condition=Q(min_trade_amount__gte=0), name="policy_min_trade_not_negative"
            ),
        ]

    def __str__(self) -> str:
        owner = self.portfolio or self.model
        return f"Policy for {owner}"


class PolicyGuardrails(models.Model):
    """The limits staff set on the policy an investor may choose for their own accounts (one
    row, edited in the admin; without it the defaults below apply). Bands are fractions
    (0.05 == 5 percentage points absolute, 25% of the target relative)."""

    min_absolute_band = models.DecimalField(max_digits=6, decimal_places=4, default=Decimal("0.01"))
    max_absolute_band = models.DecimalField(max_digits=6, decimal_places=4, default=Decimal("0.20"))
    min_relative_band = models.DecimalField(max_digits=6, decimal_places=4, default=Decimal("0.05"))
    max_relative_band = models.DecimalField(max_digits=6, decimal_places=4, default=Decimal("0.50"))
    max_cash_buffer = models.DecimalField(max_digits=6, decimal_places=4, default=Decimal("0.10"))
    max_min_trade_amount = models.DecimalField(**MONEY, default=Decimal("5000.00"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "policy guardrails"
        constraints = [
            models.CheckConstraint(
                condition=Q(min_absolute_band__gt=0, max_absolute_band__lt=1)
                & Q(min_absolute_band__lte=models.F("max_absolute_band")),
                name="guardrails_absolute_band_range",
            ),
            models.CheckConstraint(
                condition=Q(min_relative_band__gt=0, max_relative_band__lt=1)
                & Q(min_relative_band__lte=models.F("max_relative_band")),
                name="guardrails_relative_band_range",
            ),
            models.CheckConstraint(
                condition=Q(max_cash_buffer__gte=0, max_cash_buffer__lt=1),
                name="guardrails_cash_buffer_fraction",
            ),
        ]

    def __str__(self) -> str:
        return "Policy guardrails"

    @classmethod
    def current(cls) -> "PolicyGuardrails":
        """The staff's row, or the defaults."""
        return cls.objects.order_by("pk").first() or cls()


class ScanRun(models.Model):
    """One scheduled (or manual) scan: drift or harvest, with its statistics for the admin.

    running -> finished (every batch checked) | abandoned (a batch raised, or the sweeper gave
    up on it after its workers kept dying; see services/scans.py)."""

    class Kind(models.TextChoices):
        DRIFT = "drift", "Drift check"
        HARVEST = "harvest", "Harvest scan"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Completed"
        ABANDONED = "abandoned", "Abandoned"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    as_of = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    batches_total = models.PositiveIntegerField(default=0)
    batches_done = models.PositiveIntegerField(default=0)
    portfolios_checked = models.PositiveIntegerField(default=0)
    proposals_created = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.as_of} ({self.status})"


class ScanBatch(models.Model):
    """One batch of a scan run: the portfolio ids (drift) or household ids (harvest) it checks.

    `finished_at` is set once (a conditional UPDATE in the transaction that writes the
    batch's proposals), so a retried or redelivered batch adds its statistics to the run
    exactly once. `dispatched_at` / `attempts`: when the batch was last handed to a worker and
    how often; the sweeper re-sends a batch whose lease ran out and gives up after a few."""

    scan_run = models.ForeignKey(ScanRun, on_delete=models.CASCADE, related_name="batches")
    number = models.PositiveIntegerField()
    ids = models.JSONField(default=list)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    failed = models.BooleanField(default=False)
    portfolios_checked = models.PositiveIntegerField(default=0)
    proposals_created = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["scan_run", "number"]
        constraints = [
            models.UniqueConstraint(fields=["scan_run", "number"], name="scan_batch_unique_number")
        ]

    def __str__(self) -> str:
        return f"Batch {self.number} of scan {self.scan_run_id}"


class ProposalQuerySet(models.QuerySet["Proposal"]):
    def for_user(self, user: "User") -> "ProposalQuerySet":
        return self.filter(portfolio__owner=user)

    def pending(self) -> "ProposalQuerySet":
        return self.filter(status=Proposal.Status.PENDING)

    def expire_pending(self, note: str, *, now: dt.datetime) -> int:
        return self.retire_pending(Proposal.Status.EXPIRED, note, now=now)

    def built_before_target_change(self) -> "ProposalQuerySet":
        """Proposals whose account changed target after they were made: a new model or custom
        target saves the account (`updated_at`), a published model version replaces the
        model's weights. Their trades head for a target the investor no longer has."""
        newer_version = ModelVersion.objects.filter(
            model_id=OuterRef("portfolio__model_id"),
            status=ModelVersion.Status.PUBLISHED,
            reviewed_at__gt=OuterRef("created_at"),
        )
        return self.filter(Q(portfolio__updated_at__gt=F("created_at")) | Exists(newer_version))

    def retire_pending(self, status: str, note: str, *, now: dt.datetime) -> int:
        """Mark the pending proposals of this queryset `status` (expired or superseded), saying
        why, one audit event each (the system's); returns how many. The rows are locked first,
        so a concurrent decision either wins (and the proposal is left alone) or waits."""
        with transaction.atomic():
            rows = list(
                self.filter(status=Proposal.Status.PENDING)
                .select_for_update(of=("self",))
                .values_list("pk", "portfolio_id", "portfolio__owner_id")
            )
            if not rows:
                return 0
            count = Proposal.objects.filter(pk__any=Ids([pk for pk, _, _ in rows])).update(
                status=status, decided_at=now, decision_note=note[:500]
            )
            audit.record_many(
                [
                    audit.Event(
                        action=f"proposal.{status}",
                        household_id=owner,
                        object_type=Proposal._meta.label,
                        object_id=str(pk),
                        summary=note[:500],
                        data={"portfolio": portfolio},
                    )
                    for pk, portfolio, owner in rows
                ]
            )
        return count


# The rule a proposal was made by, in words (unknown names are shown as they are stored).
RULE_LABELS = {
    "threshold": "Threshold band",
    "calendar": "Calendar",
    "cash_flow": "Cash flow",
    "harvest": "Tax-loss harvest",
    "switch_back": "Switch back to the preferred security after the wash-sale window",
}


class Proposal(models.Model):
    """A set of trades the system proposes; the investor approves or rejects it.

    pending -> approved -> executing -> executed | failed;  pending -> rejected | expired | superseded.
    Weights JSON maps an asset-class code (or ticker) to a fraction.
    """

    class Kind(models.TextChoices):
        REBALANCE = "rebalance", "Rebalance"
        HARVEST = "harvest", "Tax-loss harvest"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved"
        EXECUTING = "executing", "Executing"
        EXECUTED = "executed", "Executed"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"
        SUPERSEDED = "superseded", "Superseded"
        FAILED = "failed", "Failed"
        PARTIAL = "partial", "Partly executed"

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="proposals")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    rule = models.CharField(
        max_length=32, help_text="The rule that fired: threshold, calendar, cash_flow, ..."
    )
    reason = models.TextField(help_text="Why, in plain words.")
    scan_run = models.ForeignKey(
        ScanRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="proposals"
    )
    before_weights = models.JSONField(default=dict)
    after_weights = models.JSONField(default=dict)
    target_weights = models.JSONField(default=dict)
    drift = models.JSONField(default=dict)
    details = models.JSONField(default=dict, blank=True)
    total_value = models.DecimalField(**MONEY, default=Decimal("0.00"))
    est_short_term_gain = models.DecimalField(**MONEY, default=Decimal("0.00"))
    est_long_term_gain = models.DecimalField(**MONEY, default=Decimal("0.00"))
    est_tax = models.DecimalField(
        **MONEY, default=Decimal("0.00"), help_text="Tax due on realised gains (negative: saved)."
    )
    est_cost = models.DecimalField(**MONEY, default=Decimal("0.00"))
    prices_as_of = models.DateField()
    holdings_fingerprint = models.CharField(
        max_length=64, help_text="Hash of lots and cash the proposal was built on."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)
    auto_approved = models.BooleanField(default=False)
    executed_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.TextField(blank=True)

    objects = ProposalQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "expires_at"], name="proposal_status_expiry")]
        constraints = [
            # Two workers, a retry or a re-run can never leave two pending proposals of a kind.
            models.UniqueConstraint(
                fields=["portfolio", "kind"],
                condition=Q(status="pending"),
                name="proposal_one_pending_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} for {self.portfolio} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def rule_label(self) -> str:
        return RULE_LABELS.get(self.rule, self.rule)


class ProposedTrade(models.Model):
    class Side(models.TextChoices):
        BUY = "buy", "Buy"
        SELL = "sell", "Sell"

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        SENT = "sent", "Sent to broker"
        FILLED = "filled", "Filled"
        PARTIALLY_FILLED = "partial", "Partially filled"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="trades")
    security = models.ForeignKey(Security, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = models.DecimalField(**QUANTITY)
    price = models.DecimalField(**PRICE, help_text="The price the proposal used.")
    amount = models.DecimalField(**MONEY, help_text="quantity x price, unsigned.")
    lots = models.JSONField(
        default=list,
        blank=True,
        help_text='Lots a sell relieves: [{"lot": id, "quantity": "1.5"}].',
    )
    est_short_term_gain = models.DecimalField(**MONEY, default=Decimal("0.00"))
    est_long_term_gain = models.DecimalField(**MONEY, default=Decimal("0.00"))
    est_cost = models.DecimalField(**MONEY, default=Decimal("0.00"))
    sequence = models.PositiveSmallIntegerField(default=0, help_text="Sells run before buys.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROPOSED)
    # Unique through Meta.constraints: a unique=True CharField also gets a LIKE index on
    # PostgreSQL, which no query uses and every insert pays for.
    idempotency_key = models.CharField(max_length=64)
    order_quantity = models.DecimalField(
        **QUANTITY,
        null=True,
        blank=True,
        help_text="Shares sent to the broker (a buy may be cut to the cash).",
    )
    filled_quantity = models.DecimalField(**QUANTITY, default=Decimal("0"))
    fill_price = models.DecimalField(**PRICE, null=True, blank=True)
    broker_order_id = models.CharField(max_length=100, blank=True)
    message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["proposal", "sequence", "id"]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="trade_idempotency_key"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="trade_quantity_positive"),
            models.CheckConstraint(condition=Q(price__gt=0), name="trade_price_positive"),
            models.CheckConstraint(
                condition=Q(filled_quantity__gte=0), name="trade_filled_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.security_id}"


class PaperOrder(models.Model):
    """An order held by the embedded paper broker (rebalancing/brokers/paper.py).

    Persistent, so a retry after a crash finds the earlier order by its client order id (the
    proposed trade's idempotency key) instead of sending it again.
    """

    class Status(models.TextChoices):
        NEW = "new", "New"
        PARTIALLY_FILLED = "partially_filled", "Partially filled"
        FILLED = "filled", "Filled"
        CANCELLED = "canceled", "Cancelled"
        REJECTED = "rejected", "Rejected"

    client_order_id = models.CharField(max_length=64, unique=True)
    symbol = models.CharField(max_length=16)
    side = models.CharField(max_length=4)
    quantity = models.DecimalField(**QUANTITY)
    filled_quantity = models.DecimalField(**QUANTITY, default=Decimal("0"))
    avg_fill_price = models.DecimalField(**PRICE, null=True, blank=True)
    commission = models.DecimalField(**MONEY, default=Decimal("0.00"))
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    reject_reason = models.CharField(max_length=200, blank=True)
    fills_after = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Placed while the market was closed: queued until this session's open.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.symbol} ({self.status})"


class Notification(models.Model):
    """An entry in the investor's notification centre; also mailed once (`emailed_at`)."""

    class Kind(models.TextChoices):
        WAITING = "waiting", "Proposal waiting"
        EXECUTED = "executed", "Proposal executed"
        PARTIAL = "partial", "Proposal partly executed"
        FAILED = "failed", "Proposal failed"
        EXPIRED = "expired", "Proposal expired"
        DRAWDOWN = "drawdown", "Fall beyond your stated tolerance"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    proposal = models.ForeignKey(
        Proposal, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_unread")]
        constraints = [
            # Notifying twice (a retried task) is a no-op.
            models.UniqueConstraint(
                fields=["proposal", "kind"], name="notification_once_per_proposal_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.title}"


# --- tax-loss harvesting and wash sales ------------------------------------------------------


class ReplacementPair(models.Model):
    """When `security` is harvested, buy `replacement` (same asset-class exposure, a different
    index so it is not substantially identical). Lower `priority` is tried first."""

    security = models.ForeignKey(
        Security, on_delete=models.CASCADE, related_name="replacement_pairs"
    )
    replacement = models.ForeignKey(Security, on_delete=models.CASCADE, related_name="+")
    priority = models.PositiveSmallIntegerField(default=1)
    is_active = models.BooleanField(default=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["security", "priority", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["security", "replacement"], name="replacement_pair_unique"
            ),
            models.CheckConstraint(
                condition=~Q(security=models.F("replacement")), name="replacement_not_itself"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.security_id} -> {self.replacement_id}"


class HarvestSettings(models.Model):
    """Per-investor harvest thresholds. Without a row the defaults below apply.

    Defaults and why:
    - min_loss_amount 200 USD: at a 24% short-term rate that is ~48 USD of tax value; smaller
      losses are not worth a 31-day buy block and a lower basis in the replacement.
    - min_loss_fraction 0.05 (5% of basis): a lot a few percent under water is inside normal
      daily noise; harvesting it locks in churn for little value and uses up the wash window.
    - min_net_benefit 25 USD: expected tax value minus round-trip trading costs must be at least
      this, so commissions and spreads never eat the harvest.
    Both loss thresholds must be passed (an AND).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="harvest_settings"
    )
    enabled = models.BooleanField(default=True)
    min_loss_amount = models.DecimalField(**MONEY, default=Decimal("200.00"))
    min_loss_fraction = models.DecimalField(
        max_digits=6, decimal_places=4, default=Decimal("0.0500")
    )
    min_net_benefit = models.DecimalField(**MONEY, default=Decimal("25.00"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "harvest settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(min_loss_amount__gte=0), name="harvest_min_loss_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(min_loss_fraction__gte=0, min_loss_fraction__lt=1),
                name="harvest_min_loss_fraction_range",
            ),
            models.CheckConstraint(
                condition=Q(min_net_benefit__gte=0), name="harvest_min_benefit_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"Harvest settings of {self.user}"


class HarvestSkip(models.Model):
    """A harvest candidate the scan did not propose, and why (wash-sale guard, no replacement)."""

    class Reason(models.TextChoices):
        RECENT_PURCHASE = "recent_purchase", "Bought in the household in the past 30 days"
        SCHEDULED_PURCHASE = "scheduled_purchase", "A purchase is scheduled in the next 30 days"
        DIVIDEND_REINVESTMENT = "dividend_reinvestment", "Dividends are reinvested automatically"
        NO_REPLACEMENT = "no_replacement", "No replacement security available"
        NO_PRICE = "no_price", "No price for the replacement"

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="harvest_skips")
    security = models.ForeignKey(Security, on_delete=models.CASCADE, related_name="+")
    on = models.DateField()
    reason = models.CharField(max_length=32, choices=Reason.choices)
    message = models.CharField(max_length=300)
    loss = models.DecimalField(**MONEY)
    scan_run = models.ForeignKey(
        ScanRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-on", "portfolio"]
        constraints = [
            models.UniqueConstraint(
                fields=["portfolio", "security", "on"], name="harvest_skip_one_per_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.on} {self.portfolio_id} {self.security_id}: {self.reason}"


# --- backtests ------------------------------------------------------------------------------


class BacktestRun(models.Model):
    """One backtest of an account's policy and its alternatives, cached by its inputs.

    `key` is a hash of everything the result depends on (the newest close, the target, the
    policy, the variants, the window, the starting value, the costs and the tax rates), so the
    same request finds the stored result and a changed input runs again. Runs are claimed by a
    conditional UPDATE (queued -> running), so a task delivered twice runs once; `result` holds
    plain numbers for the page (series and metrics), `error` the reason a run could not be done.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="backtests")
    key = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done.")
    inputs = models.JSONField(default=dict)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The cache: one run per account and set of inputs, however often it is asked for.
            models.UniqueConstraint(fields=["portfolio", "key"], name="backtest_once_per_inputs"),
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="backtest_progress_percent"
            ),
        ]

    def __str__(self) -> str:
        return f"Backtest {self.key[:8]} of {self.portfolio_id} ({self.status})"


class TaxSaving(models.Model):
    """One line of the household's "tax saved" ledger, written in the transaction that
    finishes an execution, one per proposal, at the investor's rates on the day (stored, as
    rates change). Losses and gains are positive dollars.

    A harvest: the taxable losses it realised, `amount` = short loss x short rate + long loss x
    long rate - costs (commissions and the fills' distance from the proposed prices; negative
    when costs exceed the tax value). A rebalance whose policy held back lots with short-term
    gains: `short_term_gain_deferred`, the gain the same sale would have realised from them
    (the engine's estimate at proposal time), and `amount` = that gain x (short rate - long
    rate), the tax a sale after a year saves against selling now."""

    household = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tax_savings"
    )
    proposal = models.OneToOneField(Proposal, on_delete=models.CASCADE, related_name="tax_saving")
    realised_on = models.DateField()
    short_term_loss = models.DecimalField(**MONEY)
    long_term_loss = models.DecimalField(**MONEY)
    short_term_rate = models.DecimalField(max_digits=5, decimal_places=4)
    long_term_rate = models.DecimalField(max_digits=5, decimal_places=4)
    costs = models.DecimalField(**MONEY)
    short_term_gain_deferred = models.DecimalField(**MONEY, default=Decimal("0.00"))
    amount = models.DecimalField(**MONEY)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-realised_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(short_term_loss__gte=0, long_term_loss__gte=0, costs__gte=0),
                name="tax_saving_losses_and_costs_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.realised_on} proposal {self.proposal_id}: {self.amount}"


class DrawdownEpisodeQuerySet(models.QuerySet["DrawdownEpisode"]):
    def ongoing(self) -> "DrawdownEpisodeQuerySet":
        return self.filter(recovered_on__isnull=True)


class DrawdownEpisode(models.Model):
    """A fall of the household's time-weighted wealth index from a peak that passed the loss
    the investor said they could bear (portfolios.analytics.drawdown). The peak day is stable
    for the whole episode, so (household, peak_on) is the once-only key of the alert: the
    daily check may run any number of times and the investor hears once per episode.
    depth: the deepest fall so far (negative fraction); tolerance: the loss (positive
    fraction) it was measured against; recovered_on: back at the peak (None while ongoing)."""

    household = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="drawdown_episodes"
    )
    peak_on = models.DateField()
    breached_on = models.DateField()
    trough_on = models.DateField()
    depth = models.DecimalField(max_digits=7, decimal_places=6)
    tolerance = models.DecimalField(max_digits=5, decimal_places=4)
    recovered_on = models.DateField(null=True, blank=True)
    notification = models.ForeignKey(
        Notification, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DrawdownEpisodeQuerySet.as_manager()

    class Meta:
        ordering = ["-peak_on", "-id"]
        constraints = [
            # One alert per episode: a second run, a second worker, a retry find the row.
            models.UniqueConstraint(
                fields=["household", "peak_on"], name="drawdown_episode_once_per_peak"
            ),
            models.CheckConstraint(condition=Q(depth__lte=0), name="drawdown_depth_not_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.household_id} from {self.peak_on}: {self.depth}"


# --- money movement: scheduled contributions and withdrawal requests --------------------------


class ContributionSchedule(models.Model):
    """Cash the investor adds to an account on a schedule; each due session records the deposit
    once (its ledger key names the schedule and the due date) and proposes investing it."""

    class Frequency(models.TextChoices):
        WEEKLY = "weekly", "Every week"
        BIWEEKLY = "biweekly", "Every two weeks"
        MONTHLY = "monthly", "Every month"
        QUARTERLY = "quarterly", "Every quarter"

    portfolio = models.ForeignKey(
        Portfolio, on_delete=models.CASCADE, related_name="contribution_schedules"
    )
    amount = models.DecimalField(**MONEY)
    frequency = models.CharField(max_length=16, choices=Frequency.choices)
    day_of_month = models.PositiveSmallIntegerField(
        default=1, help_text="Monthly and quarterly: the day of the month (1-28)."
    )
    start_on = models.DateField(help_text="First possible due date (weekly: the weekday too).")
    is_active = models.BooleanField(default=True)
    last_due_on = models.DateField(
        null=True, blank=True, help_text="The latest due date already deposited."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["portfolio", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="contribution_amount_positive"),
            models.CheckConstraint(
                condition=Q(day_of_month__gte=1, day_of_month__lte=28),
                name="contribution_day_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.frequency} into {self.portfolio_id}"


class WithdrawalRequest(models.Model):
    """Cash the investor needs out of an account by a date. While open, every drift check of
    the account raises it (the engine's cash-flow path); executing that proposal pays it out.

    open -> paid | cancelled | failed (the sales did not raise enough)."""

    class Status(models.TextChoices):
        OPEN = "open", "Being raised"
        PAID = "paid", "Paid out"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Not paid"

    portfolio = models.ForeignKey(
        Portfolio, on_delete=models.CASCADE, related_name="withdrawal_requests"
    )
    amount = models.DecimalField(**MONEY)
    needed_on = models.DateField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="withdrawal_amount_positive"),
            # One open request per account: a second one is refused, not summed silently.
            models.UniqueConstraint(
                fields=["portfolio"], condition=Q(status="open"), name="withdrawal_one_open"
            ),
        ]

    def __str__(self) -> str:
        return f"Withdraw {self.amount} from {self.portfolio_id} by {self.needed_on}"
