"""The one clock of the product: every service, view, task and command reads "now" and "today"
here (or takes them as a parameter), never from `datetime.now()`, `date.today()` or
`timezone.now()` scattered through the code (ruff's banned-api rule enforces it).

"today" is the local calendar date in settings.TIME_ZONE (America/New_York by default: the US
market's day), so 23:30 in New York is still today there though it is tomorrow in UTC.
"""

import datetime as dt

from django.utils import timezone


def now() -> dt.datetime:
    """The current instant, timezone-aware (UTC)."""
    return timezone.now()  # noqa: TID251 - the one place allowed to read the clock


def today() -> dt.date:
    """Today's date in the site's time zone."""
    return timezone.localdate(now())  # noqa: TID251


def local_date(instant: dt.datetime) -> dt.date:
    """The site-local calendar date of an instant."""
    return timezone.localdate(instant)  # noqa: TID251
