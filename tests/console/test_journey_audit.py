"""A full journey through the real services, and the audit trail afterwards: every advice event
appears exactly once, for the right household, with the right actor (None: the system), and
the chain verifies. Sign-in and MFA events are checked in tests/browser/test_console.py."""

from collections import Counter
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.contrib.admin.models import CHANGE, LogEntry

from accounts import audit, questionnaire
from accounts import services as account_services
from accounts.models import AuditEvent, Question
from portfolios import demo
from portfolios.onboarding import services as onboarding
from rebalancing.models import Proposal
from rebalancing.services import approval, execution, proposals
from tests.factories import UserFactory
from tests.rebalancing.proposal_data import drifted_household

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _instant_paper_broker(settings):
    settings.ADVISOR_BROKER_POLL_INTERVAL = 0.01
    settings.ADVISOR_PAPER_DELAY_SECONDS = 0.0
    settings.ADVISOR_PAPER_MAX_FILL = 0.0


def _answer_questionnaire(user):
    demo.seed_reference_data()
    version = questionnaire.ensure_default_questionnaire()
    selections = {
        q.code: q.options.first().pk
        for q in version.questions.prefetch_related("options")
        if q.kind == Question.Kind.CHOICE
    }
    return onboarding.submit_assessment(
        user, questionnaire_version=version, selections=selections, amount=Decimal("10000")
    )


def test_every_advice_event_of_a_journey_is_recorded_once_with_its_actor(today) -> None:
    investor = UserFactory(email="journey@example.com")
    adviser = UserFactory(email="adviser@example.com", is_staff=True)

    assessment = _answer_questionnaire(investor)
    house = drifted_household(investor)  # the drift check's proposal writer
    onboarding.accept_recommendation(
        assessment, by=investor, model=assessment.recommended_model, portfolios=[house.portfolio]
    )
    assert approval.approve_proposal(house.proposal.pk, by=investor).ok
    assert execution.execute_proposal(house.proposal.pk) == Proposal.Status.EXECUTED
    second = drifted_household(investor, name="Second account")
    assert approval.reject_proposal(second.proposal.pk, by=investor, note="not now").ok
    account_services.record_staff_view(investor, staff=adviser, what="viewed_household")
    account_services.add_review_note(investor, author=adviser, text="Reviewed the trades.")
    account_services.sign_off_review(
        investor, reviewer=adviser, result="suitable", next_review_on=today + relativedelta(years=1)
    )
    # what the admin's change view writes after saving an object
    LogEntry.objects.log_actions(
        user_id=adviser.pk, queryset=[house.portfolio], action_flag=CHANGE, change_message="cash"
    )

    events = list(AuditEvent.objects.order_by("id"))
    seen = Counter((e.action, e.actor_id) for e in events if e.household_id == investor.pk)
    expected = {
        ("risk.assessment_submitted", investor.pk),
        ("risk.model_accepted", investor.pk),
        ("proposal.created.rebalance", None),
        ("proposal.approved", investor.pk),
        ("proposal.executed", None),
        ("proposal.rejected", investor.pk),
        ("staff.viewed_household", adviser.pk),
        ("review.note_added", adviser.pk),
        ("review.signed_off", adviser.pk),
    }
    for key in expected:
        assert seen[key] == {"proposal.created.rebalance": 2}.get(key[0], 1), (key, seen)
    created = next(e for e in events if e.action == "proposal.created.rebalance")
    assert set(created.data) >= {"rule", "prices_as_of", "holdings_fingerprint"}
    executed = next(e for e in events if e.action == "proposal.executed")
    assert {t["side"] for t in executed.data["trades"]} == {"buy", "sell"}
    assert all(t["filled"] and t["price"] for t in executed.data["trades"])
    admin_edit = AuditEvent.objects.get(action="admin.changed")
    assert admin_edit.actor == adviser and admin_edit.household is None
    result = audit.verify()
    assert result.ok and result.checked == len(events)


def test_an_expiry_is_recorded_once_by_the_system_and_a_refused_approval_by_its_actor() -> None:
    investor = UserFactory(email="late@example.com")
    house = drifted_household(investor)
    Proposal.objects.filter(pk=house.proposal.pk).update(expires_at=house.proposal.created_at)
    decision = approval.approve_proposal(house.proposal.pk, by=investor)
    assert not decision.ok
    expired = AuditEvent.objects.get(action="proposal.expired")
    assert (expired.household, expired.actor, expired.object_id) == (
        investor, None, str(house.proposal.pk)
    )  # fmt: skip
    refused = AuditEvent.objects.get(action="proposal.approval_refused")
    assert refused.actor == investor
    second = drifted_household(investor, name="Second account")
    assert proposals.expire_stale_proposals(now=second.proposal.expires_at) == 1
    assert AuditEvent.objects.filter(action="proposal.expired").count() == 2
    assert audit.verify().ok
