"""The investor's settings forms. Percentages are typed as percent (24 means 24%) and read
through the input layer; the services convert nothing and check every limit, so the forms
only parse."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from accounts.models import InvestorProfile
from advisor.core import fields as input_fields
from advisor.core import inputs
from rebalancing.models import RebalancePolicy

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
