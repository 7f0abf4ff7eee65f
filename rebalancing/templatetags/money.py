"""`{{ value|usd }}` -> "$1,234.56", "-$200.00"; `{{ value|usd:0 }}` without cents."""

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def usd(value: object, places: int = 2) -> str:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return ""
    text = f"{abs(number):,.{int(places)}f}"
    return f"-${text}" if number < 0 and text.strip("0.,") else f"${text}"


@register.filter
def pct(value: object, places: int = 2) -> str:
    """A fraction as a percentage for people: 0.24 -> '24%', 0.3125 -> '31.25%'; a setting
    left empty (a band turned off) -> 'off'."""
    if value is None or value == "":
        return "off"
    number = Decimal(str(value)) * 100
    text = f"{number:.{int(places)}f}".rstrip("0").rstrip(".")
    return f"{text}%"
