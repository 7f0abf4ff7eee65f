"""The dashboard leads a newcomer to the questionnaire, and asks for a review after 12 months."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.test import Client

from portfolios.onboarding import services
from tests.accounts.conftest import MIDDLE, selections
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _dashboard(user) -> str:
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_dashboard_asks_for_the_questionnaire_then_for_a_review_after_a_year(
    user, questionnaire_v1, model_portfolios
) -> None:
    first = _dashboard(user)  # no accounts yet: the questionnaire is the one big next step
    assert "Take the risk questionnaire" in first and 'id="profile-review"' not in first
    with time_machine.travel(dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC), tick=False):
        services.submit_assessment(
            user,
            questionnaire_version=questionnaire_v1,
            selections=selections(questionnaire_v1, MIDDLE),
            amount=Decimal("50000"),
        )
    with time_machine.travel(dt.datetime(2026, 5, 30, 12, tzinfo=dt.UTC), tick=False):
        assert 'id="profile-review"' not in _dashboard(user)  # under a year: no prompt
    with time_machine.travel(dt.datetime(2026, 6, 3, 12, tzinfo=dt.UTC), tick=False):
        page = _dashboard(user)
    assert "more than 12 months ago" in page and "review your answers" in page
