from django.contrib import admin
from django.http import HttpRequest

from portfolios.models import (
    AssetClass,
    Goal,
    IdenticalGroupMember,
    ImportBatch,
    LotSale,
    ModelAllocation,
    ModelPortfolio,
    ModelVersion,
    Portfolio,
    Price,
    Security,
    SubstantiallyIdenticalGroup,
    TargetAllocation,
    TaxLot,
    Transaction,
    WashSaleBlock,
    WashSaleMatch,
)


@admin.register(AssetClass)
class AssetClassAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "sort_order"]


@admin.register(Security)
class SecurityAdmin(admin.ModelAdmin):
    list_display = [
        "ticker",
        "name",
        "asset_class",
        "kind",
        "expense_ratio",
        "allows_fractional",
        "is_active",
    ]
    list_filter = ["asset_class", "kind", "is_active"]
    search_fields = ["ticker", "name"]


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    list_display = ["security", "date", "close", "adjusted_close", "source"]
    list_filter = ["source"]
    search_fields = ["security__ticker"]
    date_hierarchy = "date"
    list_select_related = ["security"]
    raw_id_fields = ["security"]


class ModelAllocationInline(admin.TabularInline):
    """Weights change only through a reviewed version (Models pages); here the security bought
    for a class and its harvest alternates are edited."""

    model = ModelAllocation
    extra = 0
    filter_horizontal = ["alternates"]
    readonly_fields = ["asset_class", "weight"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    """Read-only history: versions are built, reviewed and published on the Models pages."""

    list_display = ["model", "number", "status", "method", "author", "reviewer", "created_at"]
    list_filter = ["status", "method"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ModelPortfolio)
class ModelPortfolioAdmin(admin.ModelAdmin):
    list_display = ["name", "risk_level", "is_active"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ModelAllocationInline]


class TargetAllocationInline(admin.TabularInline):
    model = TargetAllocation
    extra = 0


@admin.register(Portfolio)
class PortfolioAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "owner",
        "tax_treatment",
        "model",
        "cash",
        "reinvest_dividends",
        "is_active",
    ]
    list_filter = ["tax_treatment", "is_active", "reinvest_dividends", "model"]
    search_fields = ["name", "owner__email"]
    raw_id_fields = ["owner"]
    inlines = [TargetAllocationInline]


@admin.register(TaxLot)
class TaxLotAdmin(admin.ModelAdmin):
    list_display = [
        "portfolio",
        "security",
        "quantity",
        "cost_basis",
        "acquired_on",
        "holding_start",
        "closed_on",
    ]
    list_filter = ["security__asset_class"]
    search_fields = ["portfolio__name", "portfolio__owner__email", "security__ticker"]
    raw_id_fields = ["portfolio", "security", "opened_by"]
    list_select_related = ["portfolio", "security"]


@admin.register(Transaction)
class TransactionAdmin(admin.ModelAdmin):
    list_display = [
        "trade_date",
        "portfolio",
        "kind",
        "security",
        "quantity",
        "price",
        "amount",
        "source",
    ]
    list_filter = ["kind", "source"]
    search_fields = [
        "portfolio__name",
        "portfolio__owner__email",
        "security__ticker",
        "external_id",
    ]
    raw_id_fields = ["portfolio", "security"]
    list_select_related = ["portfolio", "security"]
    date_hierarchy = "trade_date"


@admin.register(LotSale)
class LotSaleAdmin(admin.ModelAdmin):
    list_display = [
        "transaction",
        "lot",
        "quantity",
        "proceeds",
        "cost_basis",
        "gain",
        "is_long_term",
    ]
    raw_id_fields = ["transaction", "lot"]


@admin.register(Goal)
class GoalAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "kind", "target_amount", "target_date", "priority"]
    list_filter = ["kind"]
    search_fields = ["name", "user__email"]
    raw_id_fields = ["user"]
    filter_horizontal = ["portfolios"]


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "owner",
        "portfolio",
        "kind",
        "layout",
        "filename",
        "status",
        "row_count",
        "error_count",
    ]
    list_filter = ["kind", "status", "layout"]
    search_fields = ["filename", "owner__email", "sha256"]
    raw_id_fields = ["owner", "portfolio"]
    readonly_fields = ["sha256", "rows", "file_errors", "created_at", "imported_at"]


# --- wash sales ----------------------------------------------------------------------------


class IdenticalGroupMemberInline(admin.TabularInline):
    model = IdenticalGroupMember
    extra = 1
    autocomplete_fields = ["security"]


@admin.register(SubstantiallyIdenticalGroup)
class SubstantiallyIdenticalGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "note"]
    search_fields = ["name", "members__security__ticker"]
    inlines = [IdenticalGroupMemberInline]


@admin.register(WashSaleBlock)
class WashSaleBlockAdmin(admin.ModelAdmin):
    list_display = ["household", "security", "until", "reason", "created_at"]
    list_filter = ["until"]
    search_fields = ["household__email", "security__ticker"]
    raw_id_fields = ["household", "security", "source_transaction"]


@admin.register(WashSaleMatch)
class WashSaleMatchAdmin(admin.ModelAdmin):
    """The record of each wash sale the ledger applied (read-only: it mirrors lot adjustments)."""

    list_display = [
        "lot_sale",
        "replacement_lot",
        "quantity",
        "disallowed",
        "permanent",
        "holding_days_added",
        "created_at",
    ]
    list_filter = ["permanent"]
    readonly_fields = [f.name for f in WashSaleMatch._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False
