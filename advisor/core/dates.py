"""Dates in sentences a service or view writes for people, in the pages' one format
(advisor/formats/en/formats.py: "Mar 5, 2026"), the same as `{{ day|date }}` in a template."""

import datetime as dt

from django.utils import formats


def day(value: dt.date) -> str:
    """A calendar day as the pages show it: date(2026, 3, 5) -> "Mar 5, 2026"."""
    return formats.date_format(value, "DATE_FORMAT")
