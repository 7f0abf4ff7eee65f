"""Investment accounts: opening one. (Moving cash and lots is the ledger's: `ledger.py`.)"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from accounts import audit
from accounts.models import User
from advisor.core import clock
from portfolios import ledger
from portfolios.models import Portfolio, Transaction


@transaction.atomic
def open_account(
    portfolio: Portfolio, *, by: User, opening_cash: Decimal | None = None
) -> Portfolio:
    """Save a new account of `by` (an unsaved Portfolio with its fields filled in), deposit
    its opening cash through the ledger, and record it in the audit trail."""
    portfolio.owner = by
    portfolio.save()
    if opening_cash:
        ledger.record_cash(
            portfolio, kind=Transaction.Kind.DEPOSIT, amount=opening_cash,
            trade_date=clock.today(), note="Opening cash balance",
        )  # fmt: skip
    audit.record(
        "portfolio.created", household=by, actor=by, obj=portfolio,
        summary=f"Opened account {portfolio.name}",
    )  # fmt: skip
    return portfolio
