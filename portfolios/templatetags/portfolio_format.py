"""Money formatting for templates: {{ value|usd }} -> "$1,234.56", "-$78.90"; usd:0 for whole dollars."""

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def usd(value: object, places: int = 2) -> str:
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not number.is_finite():
        return "\u2013"  # en dash: no number
    places = int(places)
    text = f"{abs(number):,.{places}f}"
    return f"-${text}" if number < 0 and text.strip("0.,") else f"${text}"
