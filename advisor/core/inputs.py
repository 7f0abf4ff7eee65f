"""The one input layer for numbers, dates and ids that people type or upload.

The CSV importer, the forms, the query parameters and the API all read them through here, so
every way in refuses the same things with the same message:

- Digits are ASCII only. Unicode digits (full-width, Arabic-Indic, superscript, circled) are refused with a message
  naming the value, not normalised: Python's `int()` and `Decimal()` read some of them and not
  others, and a number a person cannot read back in the preview is not one to store.
- An accounting negative '(5)' reads as -5; '(-5)' and '-(5)' are refused (which sign was meant?).
- A number is checked against the precision of the column it is going to (`Precision`): more
  digits before the point than the column holds is refused; extra places are rounded half-even.
- Dates lie between 1900-01-01 and the latest date the caller allows (usually today).
- NUL bytes and other control characters are refused in every field.
- Ids are 1 to 2**63 - 1 (PostgreSQL's bigint), ASCII digits only.

Pure Python, no Django: the importer's parser is Django-free and uses it too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

EARLIEST_DATE = dt.date(1900, 1, 1)
MAX_ID = 2**63 - 1
MISSING = frozenset({"", "--", "n/a", "na", "-"})
ISO = "iso"

_ASCII_INTEGER = re.compile(r"[0-9]{1,19}")
_ASCII_DIGITS = re.compile(r"[0-9]{1,100}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]*)?|-?\.[0-9]+")


class InputError(ValueError):
    """A value refused; the message names the field and the value, and is meant for people."""


@dataclass(frozen=True)
class Precision:
    """A NUMERIC(max_digits, decimal_places) column."""

    max_digits: int
    decimal_places: int

    @property
    def integer_digits(self) -> int:
        return self.max_digits - self.decimal_places

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.decimal_places)

    @property
    def largest(self) -> Decimal:
        return Decimal(10) ** self.integer_digits - self.quantum


# The product's columns (portfolios.models MONEY, PRICE, QUANTITY).
MONEY = Precision(18, 2)
PRICE = Precision(18, 6)
QUANTITY = Precision(20, 8)


def _shown(text: str) -> str:
    return repr(text.strip()[:40])


def check_text(text: str, name: str) -> str:
    """Refuse NUL and other control characters (tab, CR and LF are allowed)."""
    if _CONTROL.search(text):
        raise InputError(f"{name} contains a control character")
    return text


def note(text: str, max_length: int) -> str:
    """Free text for a note: control characters dropped (PostgreSQL text cannot hold NUL),
    trimmed and cut to `max_length`."""
    return _CONTROL.sub("", text).strip()[:max_length]


def has_non_ascii_digits(text: str) -> bool:
    """True when `text` holds a digit or numeral outside 0-9 (full-width '\\uff11', superscript '\\u00b2', circled '\\u2460'...)."""
    return not text.isascii() and any(c.isnumeric() and not c.isascii() for c in text)


def check_fits(value: Decimal, name: str, precision: Precision) -> Decimal:
    """`value` rounded to the column's places; InputError when it does not fit the column."""
    if not value.is_finite():
        raise InputError(f"{name} {value} is not a finite number")
    if abs(value) >= Decimal(10) ** precision.integer_digits:
        raise InputError(
            f"{name} {value:f} is too large (at most {precision.integer_digits} digits "
            "before the decimal point)"
        )
    try:
        return value.quantize(precision.quantum)
    except InvalidOperation:  # more digits than the arithmetic context holds
        raise InputError(f"{name} {value:f} is too large") from None


def fits(value: Decimal, precision: Precision) -> bool:
    try:
        check_fits(value, "value", precision)
    except InputError:
        return False
    return True


def parse_decimal(text: str, name: str, precision: Precision) -> Decimal | None:
    """'$1,234.50' -> Decimal('1234.50'); '(12.5)' -> -12.5; empty, '--' or 'n/a' -> None.

    Refuses Unicode digits, '(-5)', percentages, exponents, NaN and infinity, control characters
    and anything more than the column holds (InputError)."""
    if _PLAIN_NUMBER.fullmatch(text):  # the common case, one regex and one conversion
        return check_fits(Decimal(text), name, precision)
    check_text(text, name)
    if has_non_ascii_digits(text):
        raise InputError(f"{name} {_shown(text)} has non-ASCII digits; type it with 0-9")
    cleaned = text.strip().replace("$", "").replace(",", "").replace(" ", "")
    if cleaned.lower() in MISSING:
        return None
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    if negative:
        cleaned = cleaned[1:-1]
        if cleaned.startswith(("-", "+")):
            raise InputError(f"{name} {_shown(text)} has two signs")
    if cleaned.endswith("%"):
        raise InputError(f"{name} {_shown(text)} is a percentage, not a number")
    if cleaned.startswith("+"):
        cleaned = cleaned[1:]
    if not _PLAIN_NUMBER.fullmatch(cleaned):
        raise InputError(f"{name} {_shown(text)} is not a number")
    value = check_fits(Decimal(cleaned), name, precision)
    return -value if negative else value


def parse_date(
    text: str,
    name: str,
    formats: Iterable[str] = (ISO,),
    *,
    latest: dt.date,
    earliest: dt.date = EARLIEST_DATE,
) -> dt.date | None:
    """A calendar date in one of `formats` (strptime formats, or ISO), between `earliest` and
    `latest`; empty or '--' -> None."""
    check_text(text, name)
    cleaned = text.strip()
    if cleaned.lower() in MISSING:
        return None
    if has_non_ascii_digits(cleaned):
        raise InputError(f"{name} {_shown(text)} has non-ASCII digits; type it with 0-9")
    # Schwab and Fidelity sometimes append " as of 11/20/2026" or a time; keep the first token.
    cleaned = cleaned.split(" ")[0]
    formats = tuple(formats)
    value: dt.date | None = None
    for fmt in formats:
        try:
            value = (
                dt.date.fromisoformat(cleaned)
                if fmt == ISO
                else dt.datetime.strptime(cleaned, fmt).date()  # noqa: DTZ007 - a calendar date
            )
            break
        except ValueError:
            continue
    if value is None:
        expected = " or ".join(
            "YYYY-MM-DD"
            if fmt == ISO
            else fmt.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD")
            for fmt in formats
        )
        raise InputError(f"{name} {_shown(text)} is not a date ({expected})")
    return check_date(value, name, latest=latest, earliest=earliest)


def check_date(
    value: dt.date, name: str, *, latest: dt.date, earliest: dt.date = EARLIEST_DATE
) -> dt.date:
    if value > latest:
        raise InputError(f"{name} {value.isoformat()} is in the future")
    if value < earliest:
        raise InputError(
            f"{name} {value.isoformat()} is too far in the past (before {earliest.isoformat()})"
        )
    return value


def parse_id(text: str | None) -> int | None:
    """A database id from a query parameter or form: '42' -> 42; anything else -> None
    (Unicode digits, '-1', '0', '1e3', ' 4', a number past bigint)."""
    if not text or not _ASCII_INTEGER.fullmatch(text):
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def parse_int(text: str | None, *, default: int, minimum: int, maximum: int) -> int:
    """A bounded integer parameter (limit, offset, page): `default` when absent; InputError
    when it is not ASCII digits; clamped into [minimum, maximum]."""
    if text is None or text == "":
        return default
    if not _ASCII_DIGITS.fullmatch(text):
        raise InputError(f"{_shown(text)} is not a whole number")
    return max(minimum, min(maximum, int(text)))
