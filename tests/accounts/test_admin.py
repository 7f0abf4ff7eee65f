"""Staff manage questionnaire versions in the admin: answered versions are read-only, cloning works."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import Questionnaire
from advisor.core import clock
from tests.accounts.conftest import MIDDLE, selections
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client: Client) -> Client:
    client.force_login(UserFactory(email="root@example.com", is_staff=True, is_superuser=True))
    return client


def test_answered_version_is_read_only_and_can_be_cloned(
    admin_client_: Client, user, questionnaire_v1, model_portfolios
) -> None:
    change_url = reverse("admin:accounts_questionnaire_change", args=[questionnaire_v1.pk])
    assert admin_client_.get(change_url).status_code == 200
    question = questionnaire_v1.questions.get(code="horizon")
    assert (
        admin_client_.get(reverse("admin:accounts_question_change", args=[question.pk])).status_code
        == 200
    )
    services.submit_assessment(
        user,
        questionnaire_version=questionnaire_v1,
        selections=selections(questionnaire_v1, MIDDLE),
        amount=Decimal("1"),
    )
    # the question page is now view-only: a POST cannot change it
    response = admin_client_.post(
        reverse("admin:accounts_question_change", args=[question.pk]),
        {"code": "horizon", "text": "x"},
    )
    assert response.status_code == 403
    question.refresh_from_db()
    assert question.text.startswith("When will you need")
    # the assessment list is viewable but not editable
    assert admin_client_.get(reverse("admin:accounts_riskassessment_changelist")).status_code == 200
    # clone via the admin action
    response = admin_client_.post(
        reverse("admin:accounts_questionnaire_changelist"),
        {"action": "new_version", "_selected_action": [questionnaire_v1.pk]},
    )
    assert response.status_code == 302
    clone = Questionnaire.objects.get(version=2)
    assert not clone.is_active and clone.questions.count() == 13
    assert (
        admin_client_.get(
            reverse("admin:accounts_question_change", args=[clone.questions.get(code="horizon").pk])
        ).status_code
        == 200
    )


def test_a_profile_older_than_a_year_asks_for_a_review(
    client: Client, user, questionnaire_v1, model_portfolios
) -> None:
    from accounts import selectors

    services.submit_assessment(
        user,
        questionnaire_version=questionnaire_v1,
        selections=selections(questionnaire_v1, MIDDLE),
        amount=Decimal("1"),
    )
    client.force_login(user)
    assert 'id="stale-warning"' not in client.get(reverse("accounts:profile")).content.decode()
    assert not selectors.needs_review(user, now=clock.now())
    with time_machine.travel(clock.now() + dt.timedelta(days=370)):
        client.force_login(user)  # the old session has expired by then
        assert 'id="stale-warning"' in client.get(reverse("accounts:profile")).content.decode()
        assert selectors.needs_review(user, now=clock.now())
