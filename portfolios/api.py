"""Read-only REST endpoints for the investor's own accounts, lots and transactions."""

from rest_framework import serializers, viewsets
from rest_framework.request import Request

from accounts.models import User
from advisor.core import inputs
from portfolios.models import ModelPortfolio, Portfolio, TaxLot, Transaction


def _user(request: Request) -> User:
    """The signed-in user (the API's default permission is IsAuthenticated)."""
    assert isinstance(request.user, User)
    return request.user


class PortfolioSerializer(serializers.ModelSerializer):
    model: serializers.SlugRelatedField[ModelPortfolio] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )

    class Meta:
        model = Portfolio
        fields = ["id", "name", "tax_treatment", "broker_name", "account_number_last4", "base_currency",
                  "cash", "model", "reinvest_dividends", "is_active", "created_at", "updated_at"]  # fmt: skip


class TaxLotSerializer(serializers.ModelSerializer):
    ticker = serializers.CharField(source="security.ticker", read_only=True)

    class Meta:
        model = TaxLot
        fields = ["id", "portfolio", "ticker", "quantity", "original_quantity", "cost_basis", "acquired_on",
                  "holding_start", "wash_sale_adjustment", "closed_on"]  # fmt: skip


class TransactionSerializer(serializers.ModelSerializer):
    ticker = serializers.CharField(source="security.ticker", read_only=True, default=None)

    class Meta:
        model = Transaction
        fields = ["id", "portfolio", "kind", "trade_date", "ticker", "quantity", "price", "fees", "amount",
                  "source", "external_id", "note", "created_at"]  # fmt: skip


class PortfolioViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = PortfolioSerializer

    def get_queryset(self):
        return (
            Portfolio.objects.for_user(_user(self.request)).select_related("model").order_by("name")
        )


class TaxLotViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = TaxLotSerializer

    def get_queryset(self):
        lots = TaxLot.objects.for_user(_user(self.request)).select_related("security")
        if self.request.query_params.get("open") in ("1", "true"):
            lots = lots.open()
        if portfolio := self.request.query_params.get("portfolio"):
            pk = inputs.parse_id(portfolio)
            lots = lots.filter(portfolio_id=pk) if pk else lots.none()
        return lots.order_by("portfolio_id", "security__ticker", "acquired_on", "id")


class TransactionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = TransactionSerializer

    def get_queryset(self):
        txns = Transaction.objects.filter(portfolio__owner=self.request.user.pk).select_related(
            "security"
        )
        if portfolio := self.request.query_params.get("portfolio"):
            pk = inputs.parse_id(portfolio)
            txns = txns.filter(portfolio_id=pk) if pk else txns.none()
        return txns.order_by("-trade_date", "-id")


# The project's router (advisor/api.py) registers these under /api/.
ROUTES = [
    ("portfolios", PortfolioViewSet, "portfolio"),
    ("lots", TaxLotViewSet, "lot"),
    ("transactions", TransactionViewSet, "transaction"),
]
