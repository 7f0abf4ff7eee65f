"""Forms of the money pages (numbers and dates through the input layer)."""

import secrets

from django import forms

from advisor.core import fields, inputs
from rebalancing.models import ContributionSchedule


def one_time_key() -> str:
    """A token a form carries so that submitting it twice records one deposit."""
    return secrets.token_hex(16)


class DepositForm(forms.Form):
    amount = fields.NumberField(precision=inputs.MONEY, label="Amount ($)")
    key = forms.CharField(widget=forms.HiddenInput, max_length=32, required=False)


class WithdrawalForm(forms.Form):
    amount = fields.NumberField(precision=inputs.MONEY, label="Amount ($)")
    needed_on = fields.CalendarDateField(
        label="Needed by", widget=forms.DateInput(attrs={"type": "date"})
    )


class ContributionForm(forms.Form):
    amount = fields.NumberField(precision=inputs.MONEY, label="Amount ($)")
    frequency = forms.ChoiceField(choices=ContributionSchedule.Frequency.choices)
    day_of_month = forms.IntegerField(
        min_value=1, max_value=28, initial=1, label="Day of the month",
        help_text="Monthly and quarterly schedules (1-28).",
    )  # fmt: skip
    start_on = fields.CalendarDateField(
        label="First date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Weekly schedules repeat on this weekday. Empty: today.",
    )
