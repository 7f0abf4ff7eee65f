from django.contrib import admin

from rebalancing.models import (
    DrawdownEpisode,
    HarvestSettings,
    HarvestSkip,
    PolicyGuardrails,
    ReplacementPair,
    TaxSaving,
)


@admin.register(PolicyGuardrails)
class PolicyGuardrailsAdmin(admin.ModelAdmin):
    list_display = [
        "min_absolute_band",
        "max_absolute_band",
        "min_relative_band",
        "max_relative_band",
        "max_cash_buffer",
        "max_min_trade_amount",
        "updated_at",
    ]


# --- tax-loss harvesting ----------------------------------------------------------------------


@admin.register(ReplacementPair)
class ReplacementPairAdmin(admin.ModelAdmin):
    list_display = ["security", "replacement", "priority", "is_active", "note"]
    list_filter = ["is_active"]
    list_editable = ["priority", "is_active"]
    search_fields = ["security__ticker", "replacement__ticker"]
    autocomplete_fields = ["security", "replacement"]


@admin.register(HarvestSettings)
class HarvestSettingsAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "enabled",
        "min_loss_amount",
        "min_loss_fraction",
        "min_net_benefit",
        "updated_at",
    ]
    search_fields = ["user__email"]
    raw_id_fields = ["user"]


@admin.register(HarvestSkip)
class HarvestSkipAdmin(admin.ModelAdmin):
    list_display = ["on", "portfolio", "security", "reason", "loss"]
    list_filter = ["reason", "on"]
    search_fields = ["portfolio__owner__email", "security__ticker"]
    raw_id_fields = ["portfolio", "security", "scan_run"]


# --- drift checks: policies and scan runs (issue 5) -------------------------------------------

from rebalancing.models import RebalancePolicy, ScanBatch, ScanRun  # noqa: E402


@admin.register(RebalancePolicy)
class RebalancePolicyAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "calendar_frequency",
        "absolute_band",
        "relative_band",
        "cash_flow_enabled",
        "volatility_adjusted",
        "rebalance_to",
        "min_trade_amount",
        "cash_buffer",
        "allow_short_term_gains",
        "max_tax_cost",
        "switch_back_max_gain",
        "updated_at",
    ]
    list_filter = ["calendar_frequency", "rebalance_to", "volatility_adjusted", "cash_flow_enabled"]
    search_fields = ["portfolio__name", "portfolio__owner__email", "model__name"]
    raw_id_fields = ["portfolio"]
    fieldsets = [
        ("Applies to (one of)", {"fields": ["portfolio", "model"]}),
        ("Calendar", {"fields": ["calendar_frequency", "calendar_day"]}),
        (
            "Threshold bands",
            {
                "fields": ["absolute_band", "relative_band", "volatility_adjusted"],
                "description": "Fractions: 0.05 = 5 points absolute, 0.25 = 25% of the target weight. Both set: the smaller band (5/25 rule).",
            },
        ),
        (
            "Trading",
            {
                "fields": [
                    "rebalance_to",
                    "cash_flow_enabled",
                    "cash_buffer",
                    "min_trade_amount",
                    "allow_short_term_gains",
                    "max_tax_cost",
                    "auto_approve_cash_flow_below",
                    "switch_back_max_gain",
                ]
            },
        ),
    ]


class ScanBatchInline(admin.TabularInline):
    model = ScanBatch
    fields = readonly_fields = ("number", "finished_at", "portfolios_checked", "proposals_created")
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(ScanRun)
class ScanRunAdmin(admin.ModelAdmin):
    """Statistics of each scan (read-only: written by the workers)."""

    list_display = [
        "id",
        "kind",
        "as_of",
        "status",
        "started_at",
        "duration_seconds",
        "batches_done",
        "batches_total",
        "portfolios_checked",
        "proposals_created",
        "error_count",
    ]
    list_filter = ["kind", "status", "as_of"]
    readonly_fields = [f.name for f in ScanRun._meta.fields]
    inlines = [ScanBatchInline]

    @admin.display(description="errors")
    def error_count(self, obj: ScanRun) -> int:
        return len(obj.errors or [])

    def has_add_permission(self, request: object) -> bool:
        return False


# --- approval, execution, notifications (issue 7) -------------------------------------------

from rebalancing.models import Notification, PaperOrder, Proposal, ProposedTrade  # noqa: E402


class ProposedTradeInline(admin.TabularInline):
    model = ProposedTrade
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "sequence",
        "side",
        "security",
        "quantity",
        "price",
        "amount",
        "status",
        "order_quantity",
        "filled_quantity",
        "fill_price",
        "broker_order_id",
        "idempotency_key",
        "message",
    )

    def has_add_permission(self, request, obj=None) -> bool:
        return False


if not admin.site.is_registered(Proposal):

    @admin.register(Proposal)
    class ProposalAdmin(admin.ModelAdmin):
        """Oversight: who approved what and when, and what happened at execution (read-only)."""

        list_display = [
            "id",
            "portfolio",
            "kind",
            "rule",
            "status",
            "auto_approved",
            "decided_by",
            "decided_at",
            "executed_at",
            "created_at",
        ]
        list_filter = ["status", "kind", "rule", "auto_approved"]
        search_fields = ["portfolio__owner__email", "portfolio__name", "reason", "failure_reason"]
        list_select_related = ["portfolio", "decided_by"]
        inlines = [ProposedTradeInline]
        date_hierarchy = "created_at"

        def get_readonly_fields(self, request, obj=None) -> list[str]:
            return [f.name for f in Proposal._meta.fields]

        def has_add_permission(self, request) -> bool:
            return False

        def has_delete_permission(self, request, obj=None) -> bool:
            return False


@admin.register(PaperOrder)
class PaperOrderAdmin(admin.ModelAdmin):
    list_display = [
        "client_order_id",
        "symbol",
        "side",
        "quantity",
        "filled_quantity",
        "avg_fill_price",
        "status",
        "created_at",
    ]
    list_filter = ["status", "side"]
    search_fields = ["client_order_id", "symbol"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "title", "created_at", "read_at", "emailed_at"]
    list_filter = ["kind"]
    search_fields = ["user__email", "title"]
    list_select_related = ["user"]


# --- performance: the tax saved ledger and drawdown episodes (written by services only) ------


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TaxSaving)
class TaxSavingAdmin(_ReadOnly):
    list_display = [
        "household",
        "realised_on",
        "proposal",
        "short_term_loss",
        "long_term_loss",
        "costs",
        "amount",
    ]
    list_select_related = ["household", "proposal"]
    search_fields = ["household__email"]


@admin.register(DrawdownEpisode)
class DrawdownEpisodeAdmin(_ReadOnly):
    list_display = ["household", "peak_on", "breached_on", "depth", "tolerance", "recovered_on"]
    list_filter = ["recovered_on"]
    list_select_related = ["household"]
    search_fields = ["household__email"]
