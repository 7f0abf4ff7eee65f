from decimal import Decimal

from django import template

from accounts import scoring

register = template.Library()


@register.filter
def pct(value: float | Decimal | None, places: int = 1) -> str:
    """A fraction as a percentage: 0.063 -> "6.3%"."""
    if value is None:
        return "-"
    return f"{float(value) * 100:.{int(places)}f}%"


@register.filter
def usd(value: float | Decimal | None) -> str:
    """Money without cents: 12345.6 -> "$12,346"; negatives as "-$1,234"."""
    if value is None:
        return "-"
    amount = round(float(value))
    return f"-${abs(amount):,}" if amount < 0 else f"${amount:,}"


@register.filter
def score(value: float | Decimal | None) -> str:
    """A 0..100 risk score as a whole number, rounded by `scoring.whole_score` (62.5 -> "63")."""
    return "-" if value is None else str(scoring.whole_score(float(value)))
