from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def cents(value: float | Decimal | None) -> str:
    """Money to the cent: 4000 -> "$4,000.00"; a loss as "-$700.00"."""
    if value is None or value == "":
        return ""
    amount = Decimal(str(value)).quantize(Decimal("0.01"))
    return f"-${abs(amount):,.2f}" if amount < 0 else f"${amount:,.2f}"
