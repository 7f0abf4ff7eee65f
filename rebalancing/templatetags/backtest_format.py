"""`{{ fraction|pct }}` -> "5.17%" (None -> an en dash); `{{ x|ratio }}` -> "0.84" ("inf" -> "∞")."""

import math

from django import template

register = template.Library()
NONE = "\u2013"  # en dash: no value


@register.filter
def pct(value: object, places: int = 2) -> str:
    if value is None:
        return NONE
    number = float(value)  # type: ignore[arg-type]
    return NONE if math.isnan(number) else f"{number * 100:,.{int(places)}f}%"


@register.filter
def ratio(value: object) -> str:
    if value is None:
        return NONE
    number = float(value)  # type: ignore[arg-type]
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    return NONE if math.isnan(number) else f"{number:.2f}"


@register.filter
def lookup(mapping: object, key: object) -> object:
    """`{{ changes|lookup:account.pk }}`: a dict's value for a key (None when absent)."""
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def points(value: object) -> str:
    """A fraction as percentage points without trailing zeros: 0.05 -> "5", 0.025 -> "2.5"."""
    return NONE if value is None else f"{float(value) * 100:g}"  # type: ignore[arg-type]
