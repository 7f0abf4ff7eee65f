"""Forms of the rebalancing pages: the backtest (the window and the alternatives to compare)
and money movement (deposit, withdrawal, contributions); numbers and dates through the input
layer."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django import forms

from advisor.core import clock, inputs
from advisor.core import fields as input_fields
from rebalancing.models import ContributionSchedule
from rebalancing.selectors import backtests

BAND_PRECISION = inputs.Precision(5, 2)  # percent, 0.01 to 999.99
MAX_BANDS = 4


class BacktestForm(forms.Form):
    start = input_fields.CalendarDateField(
        latest=clock.today, required=False, label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Empty: from the first day every target fund has a price.",
    )  # fmt: skip
    end = input_fields.CalendarDateField(
        latest=clock.today, required=False, label="To",
        widget=forms.DateInput(attrs={"type": "date"}), help_text="Empty: the latest close.",
    )  # fmt: skip
    bands = forms.CharField(
        required=False, max_length=60, initial="3, 10", label="Band widths to compare (%)",
        help_text="Up to four, separated by commas: each rebalances when an asset class is "
        "this many percentage points away from its target.",
    )  # fmt: skip
    calendars = forms.MultipleChoiceField(
        required=False, label="Calendar rebalancing to compare",
        choices=[(c, c.capitalize()) for c in backtests.CALENDARS],
        initial=list(backtests.CALENDARS), widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip

    def clean_bands(self) -> tuple[float, ...]:
        text = inputs.check_text(self.cleaned_data.get("bands") or "", "The band widths")
        parts = [p.strip().removesuffix("%").strip() for p in text.split(",") if p.strip()]
        if len(parts) > MAX_BANDS:
            raise forms.ValidationError(f"Compare at most {MAX_BANDS} band widths.")
        widths: list[float] = []
        for part in parts:
            try:
                value = inputs.parse_decimal(part, "A band width", BAND_PRECISION)
            except inputs.InputError as exc:
                raise forms.ValidationError(str(exc)) from None
            if value is None or not Decimal(0) < value < Decimal(100):
                raise forms.ValidationError(
                    f"A band of {part}% cannot be backtested: a band must be above 0% (0 would "
                    "trade every day) and below 100% (100% would never trade)."
                )
            widths.append(float(value) / 100.0)
        return tuple(widths)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start: dt.date | None = data.get("start")
        end: dt.date | None = data.get("end")
        if start and end and start >= end:
            self.add_error("end", "The end must be after the start.")
        return data

    def request(self) -> backtests.Request:
        data = self.cleaned_data
        return backtests.Request(
            start=data.get("start"),
            end=data.get("end"),
            bands=data.get("bands", ()),
            calendars=tuple(data.get("calendars") or ()),
        )


SHOCK_PRECISION = inputs.Precision(6, 2)  # percent
SHOCK_PREFIX = "shock-"


def parse_own_shock(query: Mapping[str, str]) -> tuple[dict[str, float], dict[str, str], list[str]]:
    """The investor's own scenario from `shock-<asset class code>` parameters in percent:
    (class code -> return as a fraction, the text typed per class, error messages). A class
    left empty does not move; a fall of more than 100% is refused."""
    shock: dict[str, float] = {}
    typed: dict[str, str] = {}
    errors: list[str] = []
    for name, text in query.items():
        if not name.startswith(SHOCK_PREFIX):
            continue
        code = name.removeprefix(SHOCK_PREFIX)
        typed[code] = text
        try:
            value = inputs.parse_decimal(
                text.strip().removesuffix("%"), "A change", SHOCK_PRECISION
            )
        except inputs.InputError as exc:
            errors.append(str(exc))
            continue
        if value is None:
            continue
        if value < Decimal(-100):
            errors.append(f"A change of {value}% is not possible: nothing falls more than 100%.")
            continue
        shock[code] = float(value) / 100.0
    return shock, typed, errors


# --- money movement ---------------------------------------------------------------------------


def one_time_key() -> str:
    """A token a form carries so that submitting it twice records one deposit."""
    return secrets.token_hex(16)


class DepositForm(forms.Form):
    amount = input_fields.NumberField(precision=inputs.MONEY, label="Amount ($)")
    key = forms.CharField(widget=forms.HiddenInput, max_length=32, required=False)


class WithdrawalForm(forms.Form):
    amount = input_fields.NumberField(precision=inputs.MONEY, label="Amount ($)")
    needed_on = input_fields.CalendarDateField(
        label="Needed by", widget=forms.DateInput(attrs={"type": "date"})
    )


class ContributionForm(forms.Form):
    amount = input_fields.NumberField(precision=inputs.MONEY, label="Amount ($)")
    frequency = forms.ChoiceField(choices=ContributionSchedule.Frequency.choices)
    day_of_month = forms.IntegerField(
        min_value=1, max_value=28, initial=1, label="Day of the month",
        help_text="Monthly and quarterly schedules (1-28).",
    )  # fmt: skip
    start_on = input_fields.CalendarDateField(
        label="First date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Weekly schedules repeat on this weekday. Empty: today.",
    )
