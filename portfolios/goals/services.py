"""Goal state changes (audited)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from accounts import audit
from accounts.models import User
from portfolios.models import Goal, Portfolio


@transaction.atomic
def save_goal(
    user: User, *, goal: Goal | None, data: dict[str, Any], portfolios: Iterable[Portfolio]
) -> Goal:
    """Create or update one of `user`'s goals from validated form data; linked accounts must be theirs."""
    accounts = list(portfolios)
    if any(p.owner_id != user.pk for p in accounts):
        raise ValueError("An account does not belong to you.")
    created = goal is None
    if goal is None:
        goal = Goal(user=user)
    elif goal.user_id != user.pk:
        raise ValueError("This goal belongs to someone else.")
    for name in (
        "name",
        "kind",
        "target_amount",
        "target_date",
        "monthly_contribution",
        "priority",
    ):
        setattr(goal, name, data[name])
    goal.save()
    goal.portfolios.set(accounts)
    audit.record(
        "goal.created" if created else "goal.updated",
        household=user,
        actor=user,
        obj=goal,
        summary=f"{goal.name}: {goal.target_amount} by {goal.target_date}, {goal.monthly_contribution}/month",
        target_amount=str(goal.target_amount),
        target_date=goal.target_date.isoformat(),
        monthly_contribution=str(goal.monthly_contribution),
        portfolios=[p.pk for p in accounts],
    )
    return goal


@transaction.atomic
def delete_goal(user: User, *, goal: Goal) -> None:
    if goal.user_id != user.pk:
        raise ValueError("This goal belongs to someone else.")
    audit.record(
        "goal.deleted", household=user, actor=user, obj=goal, summary=f"Deleted goal {goal.name}"
    )
    goal.delete()
