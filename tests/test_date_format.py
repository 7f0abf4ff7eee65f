"""One date format on every page: templates use the named formats of
advisor/formats/en/formats.py, never a pattern of their own."""

import datetime as dt
import re
from pathlib import Path

from django.template import Context, Template

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
NAMED = {"DATE_FORMAT", "DATETIME_FORMAT", "YEAR_MONTH_FORMAT", "c", "Y"}  # c: machine-readable


def test_no_template_spells_its_own_date_pattern() -> None:
    own = []
    for path in TEMPLATES.rglob("*.html"):
        # A date input's value, min and max are ISO dates by the HTML standard, not prose.
        text = re.sub(r"(?:value|min|max)=\"\{\{ [^}]*\|date:'Y-m-d' \}\}\"", "", path.read_text())
        for pattern in re.findall(r"\|date:[\"']([^\"']*)[\"']", text):
            if pattern not in NAMED:
                own.append(f"{path.relative_to(TEMPLATES)}: {pattern}")
    assert own == []


def test_dates_and_times_read_the_same_everywhere(settings) -> None:
    settings.TIME_ZONE = "America/New_York"
    day = dt.date(2026, 3, 5)
    moment = dt.datetime(2026, 3, 5, 21, 5, tzinfo=dt.UTC)
    text = Template(
        '{{ day|date }} | {{ day }} | {{ moment|date:"DATETIME_FORMAT" }} | {{ day|date:"YEAR_MONTH_FORMAT" }}'
    ).render(Context({"day": day, "moment": moment}))
    assert text == "Mar 5, 2026 | Mar 5, 2026 | Mar 5, 2026, 16:05 | Mar 2026"
