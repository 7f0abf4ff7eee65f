"""Returns for templates: {{ r|ret }} -> "+4.25%", "-0.33%"; an en dash where there is no number."""

import math

from django import template

register = template.Library()


@register.filter
def ret(value: object, places: int = 2) -> str:
    """A fraction as a signed percentage (0.0425 -> "+4.25%")."""
    if value is None or value == "":
        return "\u2013"
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        return "\u2013"
    text = f"{number * 100:+,.{int(places)}f}%"
    return "0.00%" if text in ("+0.00%", "-0.00%") and int(places) == 2 else text


@register.filter
def ratio(value: object, places: int = 2) -> str:
    """A plain number (a beta, a Sharpe ratio) with `places` decimals; an en dash where none."""
    if value is None or value == "":
        return "\u2013"
    number = float(value)  # type: ignore[arg-type]
    return f"{number:,.{int(places)}f}" if math.isfinite(number) else "\u2013"


@register.filter
def pct(value: object, places: int = 1) -> str:
    """A fraction as a percentage without a sign (0.24 -> "24.0%"); an en dash where none."""
    if value is None or value == "":
        return "\u2013"
    number = float(value)  # type: ignore[arg-type]
    return f"{number * 100:,.{int(places)}f}%" if math.isfinite(number) else "\u2013"
