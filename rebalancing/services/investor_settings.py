"""The investor's own settings: tax profile, rebalancing policy (within the staff's
guardrails), harvesting, lot relief and notifications.

Each change is validated here (a refused value raises `SettingsError` with a message for
people and writes nothing), saved in one transaction and audited with the values before and
after. Rates, bands and buffers are fractions (0.24 == 24%); money is Decimal.

A policy change writes the account's own `RebalancePolicy` (created from the policy that
applied until then, so the fields not changed keep their values); the one resolver
(`selectors.policies`) then picks it over the model's and the defaults, for the next scan.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import models, transaction

from accounts import audit
from accounts.models import InvestorProfile, User
from portfolios.models import Portfolio
from rebalancing.models import HarvestSettings, PolicyGuardrails, RebalancePolicy
from rebalancing.selectors import policies as policy_selectors

ZERO, ONE = Decimal("0"), Decimal("1")


class SettingsError(ValueError):
    """A setting refused; the message is meant for people."""


def _pct(value: Decimal) -> str:
    return f"{(value * 100).normalize():f}%"


Row = TypeVar("Row", bound=models.Model)


def _save_audited(
    obj: Row, changes: dict[str, Any], *, action: str, by: User, household: User
) -> Row:
    """Apply `changes` to `obj`, save, and record the fields that changed (before and after)."""
    before = {name: getattr(obj, name) for name in changes}
    for name, value in changes.items():
        setattr(obj, name, value)
    try:
        obj.full_clean(exclude=["user", "portfolio", "model"])
    except ValidationError as exc:
        raise SettingsError(" ".join(exc.messages)) from None
    obj.save()
    changed = {k: [str(before[k]), str(v)] for k, v in changes.items() if before[k] != v}
    audit.record(
        action,
        household=household,
        actor=by,
        obj=obj,
        summary=f"{action.split('.')[-1].replace('_', ' ')}: {', '.join(changed) or 'no change'}",
        before={k: v[0] for k, v in changed.items()},
        after={k: v[1] for k, v in changed.items()},
    )
    return obj


def _profile(user: User) -> InvestorProfile:
    profile, _ = InvestorProfile.objects.select_for_update().get_or_create(user=user)
    return profile


def _check_rate(value: Decimal, label: str) -> None:
    if value < ZERO or value > ONE:
        raise SettingsError(f"{label} must be between 0% and 100% (you entered {_pct(value)}).")


@transaction.atomic
def update_tax_profile(
    user: User,
    *,
    by: User,
    filing_status: str,
    federal_short_term_rate: Decimal,
    federal_long_term_rate: Decimal,
    state_rate: Decimal,
    carryover_short_term_loss: Decimal,
    carryover_long_term_loss: Decimal,
    carryover_tax_year: int | None,
) -> InvestorProfile:
    """Filing status, federal rates (short term = ordinary income), the state rate added to
    both, and the losses carried into `carryover_tax_year` (positive amounts)."""
    if filing_status not in InvestorProfile.FilingStatus.values:
        raise SettingsError("Choose a filing status from the list.")
    _check_rate(federal_short_term_rate, "The federal short-term rate")
    _check_rate(federal_long_term_rate, "The federal long-term rate")
    _check_rate(state_rate, "The state rate")
    for rate, label in ((federal_short_term_rate, "short"), (federal_long_term_rate, "long")):
        if rate + state_rate > ONE:
            raise SettingsError(
                f"The federal {label}-term rate and the state rate together are "
                f"{_pct(rate + state_rate)}; they cannot exceed 100%."
            )
    if carryover_short_term_loss < ZERO or carryover_long_term_loss < ZERO:
        raise SettingsError("Enter carried-over losses as positive amounts (or 0).")
    return _save_audited(
        _profile(user),
        {
            "filing_status": filing_status,
            "short_term_tax_rate": federal_short_term_rate,
            "long_term_tax_rate": federal_long_term_rate,
            "state_tax_rate": state_rate,
            "carryover_short_term_loss": carryover_short_term_loss,
            "carryover_long_term_loss": carryover_long_term_loss,
            "carryover_tax_year": carryover_tax_year,
        },
        action="settings.tax_profile",
        by=by,
        household=user,
    )


@transaction.atomic
def update_lot_relief(user: User, *, by: User, method: str) -> InvestorProfile:
    """The lot relief method for sells that name no lots (manual and imported)."""
    if method not in InvestorProfile.LotRelief.values:
        raise SettingsError("Choose a lot relief method from the list.")
    return _save_audited(
        _profile(user),
        {"lot_relief_method": method},
        action="settings.lot_relief",
        by=by,
        household=user,
    )


@transaction.atomic
def update_notifications(
    user: User, *, by: User, email_waiting: bool, email_executed: bool, email_problems: bool
) -> InvestorProfile:
    """Which notifications are also emailed (every one stays in the notification centre)."""
    return _save_audited(
        _profile(user),
        {
            "email_waiting": email_waiting,
            "email_executed": email_executed,
            "email_problems": email_problems,
        },
        action="settings.notifications",
        by=by,
        household=user,
    )


@transaction.atomic
def update_harvesting(
    user: User,
    *,
    by: User,
    enabled: bool,
    min_loss_amount: Decimal,
    min_loss_fraction: Decimal,
    min_net_benefit: Decimal,
) -> HarvestSettings:
    """Harvest on/off and its thresholds (both loss thresholds must be passed)."""
    if min_loss_amount < ZERO or min_net_benefit < ZERO:
        raise SettingsError("The minimum loss and the minimum benefit cannot be negative.")
    if min_loss_fraction < ZERO or min_loss_fraction >= ONE:
        raise SettingsError(
            "The minimum loss as a share of cost must be at least 0% and below 100% "
            f"(you entered {_pct(min_loss_fraction)})."
        )
    settings_row = HarvestSettings.objects.select_for_update().filter(user=user).first()
    return _save_audited(
        settings_row or HarvestSettings(user=user),
        {
            "enabled": enabled,
            "min_loss_amount": min_loss_amount,
            "min_loss_fraction": min_loss_fraction,
            "min_net_benefit": min_net_benefit,
        },
        action="settings.harvesting",
        by=by,
        household=user,
    )


def _check_band(value: Decimal | None, low: Decimal, high: Decimal, label: str) -> None:
    if value is None:
        return
    if value <= ZERO or value >= ONE:
        raise SettingsError(
            f"The {label} cannot be {_pct(value)}: it must be more than 0% and less than 100%."
        )
    if not low <= value <= high:
        raise SettingsError(
            f"The {label} must be between {_pct(low)} and {_pct(high)} (the limits your "
            f"adviser set); you entered {_pct(value)}."
        )


def check_policy(
    guard: PolicyGuardrails,
    *,
    absolute_band: Decimal | None,
    relative_band: Decimal | None,
    cash_buffer: Decimal,
    min_trade_amount: Decimal,
    calendar_day: int,
) -> None:
    """Refuse a policy outside the staff's guardrails (bands of 0 or 100% always)."""
    _check_band(absolute_band, guard.min_absolute_band, guard.max_absolute_band, "absolute band")
    _check_band(relative_band, guard.min_relative_band, guard.max_relative_band, "relative band")
    if absolute_band is None and relative_band is None:
        raise SettingsError("Keep at least one band (absolute or relative).")
    if not ZERO <= cash_buffer <= guard.max_cash_buffer:
        raise SettingsError(
            f"The cash buffer must be between 0% and {_pct(guard.max_cash_buffer)}; you entered "
            f"{_pct(cash_buffer)}."
        )
    if not ZERO <= min_trade_amount <= guard.max_min_trade_amount:
        raise SettingsError(
            f"The minimum trade must be between $0 and ${guard.max_min_trade_amount:,.2f}."
        )
    if not 1 <= calendar_day <= 28:
        raise SettingsError("The calendar day must be between 1 and 28.")


@transaction.atomic
def update_policy(
    portfolio: Portfolio,
    *,
    by: User,
    absolute_band: Decimal | None,
    relative_band: Decimal | None,
    calendar_frequency: str,
    calendar_day: int,
    rebalance_to: str,
    cash_buffer: Decimal,
    min_trade_amount: Decimal,
) -> RebalancePolicy:
    """The account's own policy, within the guardrails. The first change copies the policy
    that applied (the model's or the defaults) so the fields not shown keep their values."""
    if calendar_frequency not in RebalancePolicy.Frequency.values:
        raise SettingsError("Choose a calendar from the list.")
    if rebalance_to not in RebalancePolicy.Target.values:
        raise SettingsError("Choose how far to rebalance from the list.")
    check_policy(
        PolicyGuardrails.current(), absolute_band=absolute_band, relative_band=relative_band,
        cash_buffer=cash_buffer, min_trade_amount=min_trade_amount, calendar_day=calendar_day,
    )  # fmt: skip
    portfolio = Portfolio.objects.select_for_update().get(pk=portfolio.pk)
    own = RebalancePolicy.objects.filter(portfolio=portfolio).first()
    if own is None:
        own = policy_selectors.policy_for(portfolio)
        own.pk, own.model, own.portfolio = None, None, portfolio
        own._state.adding = True
    return _save_audited(
        own,
        {
            "absolute_band": absolute_band,
            "relative_band": relative_band,
            "calendar_frequency": calendar_frequency,
            "calendar_day": calendar_day,
            "rebalance_to": rebalance_to,
            "cash_buffer": cash_buffer,
            "min_trade_amount": min_trade_amount,
        },
        action="settings.policy",
        by=by,
        household=portfolio.owner,
    )
