"""Form fields that read numbers and dates through the input layer (advisor.core.inputs), so a
form refuses exactly what the CSV importer refuses: Unicode digits, control characters, numbers
the column cannot hold, dates before 1900 or past the latest date allowed.

Declared fields use `NumberField` / `CalendarDateField`; model forms set
`formfield_callback = fields.formfield` in their Meta.
"""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models

from advisor.core import clock, inputs

FAR_FUTURE_DAYS = 100 * 366


class NumberField(forms.DecimalField):
    """A decimal for a NUMERIC column: ASCII digits, '$1,234.50' and '(5)' accepted, rounded
    to the column's places, refused when it does not fit."""

    def __init__(self, *, precision: inputs.Precision, **kwargs: Any) -> None:
        self.precision = precision
        kwargs.setdefault("max_digits", precision.max_digits)
        kwargs.setdefault("decimal_places", precision.decimal_places)
        super().__init__(**kwargs)

    # django-stubs types DecimalField.to_python as its base IntegerField's (int | None).
    def to_python(self, value: object) -> Decimal | None:  # type: ignore[override]
        if value in self.empty_values:
            return None
        try:
            if isinstance(value, Decimal):
                return inputs.check_fits(value, "The number", self.precision)
            return inputs.parse_decimal(str(value), "The number", self.precision)
        except inputs.InputError as exc:
            raise ValidationError(str(exc), code="invalid") from None


class CalendarDateField(forms.DateField):
    """A date from 1900-01-01 to `latest()` (default: a hundred years from today)."""

    def __init__(self, *, latest: Callable[[], dt.date] | None = None, **kwargs: Any) -> None:
        self.latest = latest or (lambda: clock.today() + dt.timedelta(days=FAR_FUTURE_DAYS))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> dt.date | None:
        if isinstance(value, str):
            try:
                inputs.check_text(value, "The date")
            except inputs.InputError as exc:
                raise ValidationError(str(exc), code="invalid") from None
            if inputs.has_non_ascii_digits(value):
                raise ValidationError("Type the date with the digits 0-9.", code="invalid")
        return super().to_python(value)

    def validate(self, value: dt.date | None) -> None:
        super().validate(value)
        if value is not None:
            try:
                inputs.check_date(value, "The date", latest=self.latest())
            except inputs.InputError as exc:
                raise ValidationError(str(exc), code="out_of_range") from None


def formfield(db_field: models.Field, **kwargs: Any) -> forms.Field | None:
    """ModelForm `formfield_callback`: decimals and dates through the input layer."""
    if isinstance(db_field, models.DecimalField):
        kwargs.setdefault("form_class", NumberField)
        kwargs.setdefault(
            "precision", inputs.Precision(db_field.max_digits, db_field.decimal_places)
        )
    elif isinstance(db_field, models.DateField) and not isinstance(db_field, models.DateTimeField):
        kwargs.setdefault("form_class", CalendarDateField)
    return db_field.formfield(**kwargs)
