"""A household's record for a period, as plain rows: the risk-profile history, the proposals
with their trades, the executed trades (fills) and the audit entries with their hashes. The
CSV export, the printable report and the household page read it from here."""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Prefetch
from django.utils import timezone

from accounts.models import AuditEvent, ReviewNote, ReviewSignOff, RiskAssessment, User
from portfolios.models import Transaction
from rebalancing.models import Proposal, ProposedTrade


@dataclass
class Period:
    start: dt.date
    end: dt.date

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """[start 00:00, end + 1 day 00:00) in the site's time zone."""
        start = timezone.make_aware(dt.datetime.combine(self.start, dt.time.min))
        end = timezone.make_aware(dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min))
        return start, end


@dataclass
class HouseholdRecord:
    household: User
    period: Period
    assessments: list[RiskAssessment] = field(default_factory=list)
    proposals: list[Proposal] = field(default_factory=list)
    fills: list[Transaction] = field(default_factory=list)
    events: list[AuditEvent] = field(default_factory=list)
    notes: list[ReviewNote] = field(default_factory=list)
    sign_offs: list[ReviewSignOff] = field(default_factory=list)


def household_record(household: User, period: Period) -> HouseholdRecord:
    """Everything on file about `household` in `period` (a fixed number of queries)."""
    start, end = period.bounds()
    in_period = {"created_at__gte": start, "created_at__lt": end}
    return HouseholdRecord(
        household=household,
        period=period,
        assessments=list(
            RiskAssessment.objects.filter(
                user=household, submitted_at__gte=start, submitted_at__lt=end
            ).select_related("questionnaire", "recommended_model", "accepted_model")
        ),
        proposals=list(
            Proposal.objects.filter(portfolio__owner=household, **in_period)
            .select_related("portfolio", "decided_by")
            .prefetch_related(_trades())
            .order_by("created_at", "id")
        ),
        fills=list(
            Transaction.objects.filter(
                portfolio__owner=household,
                trade_date__gte=period.start,
                trade_date__lte=period.end,
                kind__in=[Transaction.Kind.BUY, Transaction.Kind.SELL],
            )
            .select_related("security", "portfolio")
            .order_by("trade_date", "id")
        ),
        events=list(
            AuditEvent.objects.filter(household=household, **in_period)
            .select_related("actor")
            .order_by("id")
        ),
        notes=list(
            ReviewNote.objects.filter(household=household, **in_period).select_related("author")
        ),
        sign_offs=list(
            ReviewSignOff.objects.filter(
                household=household, signed_at__gte=start, signed_at__lt=end
            ).select_related("reviewer")
        ),
    )


def _trades() -> Prefetch:
    return Prefetch(
        "trades",
        queryset=ProposedTrade.objects.select_related("security").order_by("sequence", "id"),
    )
