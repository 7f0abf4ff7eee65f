"""The backtest page's form (the window and the alternatives to compare), the investor's
settings forms and the money-movement forms (deposit, withdrawal, contributions). Percentages
are typed as percent (24 means 24%) and read through the input layer; the settings services
check every limit, so the settings forms only parse."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django import forms

from accounts.models import InvestorProfile
from advisor.core import clock, inputs
from advisor.core import fields as input_fields
from rebalancing.models import ContributionSchedule, RebalancePolicy
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


# --- the investor's settings ---------------------------------------------------------------

# Hundredths of a percent: stored as fractions with 4 places (24.12% -> 0.2412).
PERCENT = inputs.Precision(7, 2)
HUNDRED = Decimal(100)


def percent_field(label: str, *, required: bool = True, help_text: str = "") -> forms.Field:
    return input_fields.NumberField(
        precision=PERCENT, label=label, required=required, help_text=help_text
    )


def fraction(value: Decimal) -> Decimal:
    """A percentage typed by a person as the fraction the models store."""
    return value / HUNDRED


def optional_fraction(value: Decimal | None) -> Decimal | None:
    """`fraction` of a field that may be left empty (a band turned off)."""
    return None if value is None else fraction(value)


def percent(value: Decimal | None) -> Decimal | None:
    """A stored fraction as the percentage a form shows."""
    return None if value is None else (value * HUNDRED).normalize()


class TaxProfileForm(forms.Form):
    filing_status = forms.ChoiceField(choices=InvestorProfile.FilingStatus.choices)
    federal_short_term_rate = percent_field(
        "Federal rate on short-term gains (%)", help_text="Your marginal income-tax bracket."
    )
    federal_long_term_rate = percent_field("Federal rate on long-term gains (%)")
    state_rate = percent_field(
        "State rate (%)", help_text="Added to both federal rates; 0 where there is none."
    )
    carryover_short_term_loss = input_fields.NumberField(
        precision=inputs.MONEY, label="Short-term loss carried into this year ($)"
    )
    carryover_long_term_loss = input_fields.NumberField(
        precision=inputs.MONEY, label="Long-term loss carried into this year ($)"
    )


class HarvestingForm(forms.Form):
    enabled = forms.BooleanField(label="Look for losses to harvest", required=False)
    min_loss_amount = input_fields.NumberField(
        precision=inputs.MONEY, label="Minimum loss per position ($)"
    )
    min_loss_percent = percent_field("Minimum loss as a share of cost (%)")
    min_net_benefit = input_fields.NumberField(
        precision=inputs.MONEY, label="Minimum tax value after trading costs ($)"
    )


class LotReliefForm(forms.Form):
    method = forms.ChoiceField(
        choices=InvestorProfile.LotRelief.choices,
        widget=forms.RadioSelect,
        label="Which lots a sale takes first",
    )


class NotificationsForm(forms.Form):
    email_waiting = forms.BooleanField(
        required=False, label="A proposal is waiting for my approval"
    )
    email_executed = forms.BooleanField(required=False, label="A proposal was executed")
    email_problems = forms.BooleanField(required=False, label="A proposal failed or expired")


class PolicyForm(forms.Form):
    absolute_band = percent_field(
        "Absolute band (percentage points)",
        required=False,
        help_text="Rebalance when a class is this many points from its target; empty: off.",
    )
    relative_band = percent_field(
        "Relative band (% of the target)",
        required=False,
        help_text="Rebalance when a class is this share of its target away; empty: off.",
    )
    calendar_frequency = forms.ChoiceField(
        choices=RebalancePolicy.Frequency.choices, label="Calendar"
    )
    calendar_day = forms.IntegerField(label="Day of the month", min_value=1, max_value=28)
    rebalance_to = forms.ChoiceField(choices=RebalancePolicy.Target.choices, label="Trade")
    cash_buffer = percent_field("Cash kept uninvested (%)")
    min_trade_amount = input_fields.NumberField(precision=inputs.MONEY, label="Smallest trade ($)")


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
