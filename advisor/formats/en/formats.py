"""The one date format of every page (FORMAT_MODULE_PATH): templates write `{{ day|date }}`,
`{{ moment|date:"DATETIME_FORMAT" }}` or `{{ day|date:"YEAR_MONTH_FORMAT" }}`, never a
pattern of their own, so a date reads the same on every page."""

DATE_FORMAT = "M j, Y"  # Mar 5, 2026
DATETIME_FORMAT = "M j, Y, H:i"  # Mar 5, 2026, 16:05 (the server's time zone)
YEAR_MONTH_FORMAT = "M Y"  # Mar 2026
SHORT_DATE_FORMAT = "M j, Y"
SHORT_DATETIME_FORMAT = "M j, Y, H:i"
MONTH_DAY_FORMAT = "M j"
