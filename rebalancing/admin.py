from django.contrib import admin


# --- drift checks: policies and scan runs (issue 5) -------------------------------------------

from rebalancing.models import RebalancePolicy, ScanBatch, ScanRun  # noqa: E402


@admin.register(RebalancePolicy)
class RebalancePolicyAdmin(admin.ModelAdmin):
    list_display = [
        "__str__", "calendar_frequency", "absolute_band", "relative_band", "cash_flow_enabled",
        "volatility_adjusted", "rebalance_to", "min_trade_amount", "cash_buffer", "allow_short_term_gains",
        "max_tax_cost", "updated_at",
    ]
    list_filter = ["calendar_frequency", "rebalance_to", "volatility_adjusted", "cash_flow_enabled"]
    search_fields = ["portfolio__name", "portfolio__owner__email", "model__name"]
    raw_id_fields = ["portfolio"]
    fieldsets = [
        ("Applies to (one of)", {"fields": ["portfolio", "model"]}),
        ("Calendar", {"fields": ["calendar_frequency", "calendar_day"]}),
        ("Threshold bands", {"fields": ["absolute_band", "relative_band", "volatility_adjusted"],
                             "description": "Fractions: 0.05 = 5 points absolute, 0.25 = 25% of the target weight. Both set: the smaller band (5/25 rule)."}),
        ("Trading", {"fields": ["rebalance_to", "cash_flow_enabled", "cash_buffer", "min_trade_amount",
                                "allow_short_term_gains", "max_tax_cost", "auto_approve_cash_flow_below"]}),
    ]


class ScanBatchInline(admin.TabularInline):
    model = ScanBatch
    fields = ["number", "finished_at", "portfolios_checked", "proposals_created"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(ScanRun)
class ScanRunAdmin(admin.ModelAdmin):
    """Statistics of each scan (read-only: written by the workers)."""

    list_display = [
        "id", "kind", "as_of", "status", "started_at", "duration_seconds", "batches_done", "batches_total",
        "portfolios_checked", "proposals_created", "error_count",
    ]
    list_filter = ["kind", "status", "as_of"]
    readonly_fields = [f.name for f in ScanRun._meta.fields]
    inlines = [ScanBatchInline]

    @admin.display(description="errors")
    def error_count(self, obj: ScanRun) -> int:
        return len(obj.errors or [])

    def has_add_permission(self, request: object) -> bool:
        return False
