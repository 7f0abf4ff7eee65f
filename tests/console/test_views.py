"""The console's pages: who reaches what (investor 403, adviser only assigned households,
superuser or SEE_ALL everyone), notes and sign-offs audited, exports with neutralised cells."""

import csv
import io

import pytest
from dateutil.relativedelta import relativedelta
from django.test import Client
from django.urls import reverse

from accounts import audit
from accounts.models import AdviserAssignment, AuditEvent, ReviewNote, ReviewSignOff
from advisor.console.exports import neutralise
from advisor.core import clock
from tests.auth import recently_signed_in
from tests.console.households import MUTATIONS, assessment, clean_household
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HOUSEHOLD_ROUTES = ("household", "export_csv", "report")
POST_ROUTES = ("add_note", "sign_off")


@pytest.fixture
def adviser():
    return UserFactory(email="adviser@example.com", is_staff=True)


@pytest.fixture
def assigned(adviser):
    account = clean_household("assigned@example.com")
    MUTATIONS["stale"](account)
    AdviserAssignment.objects.create(adviser=adviser, household=account.owner)
    return account.owner


@pytest.fixture
def unassigned():
    return clean_household("elsewhere@example.com").owner


def _as(client: Client, user) -> Client:
    client.force_login(user)
    recently_signed_in(client, "mfa")
    return client


def test_an_investor_gets_403_on_every_console_url(client, assigned) -> None:
    _as(client, assigned)  # even on their own household
    assert client.get(reverse("console:households")).status_code == 403
    for name in HOUSEHOLD_ROUTES:
        assert client.get(reverse(f"console:{name}", args=[assigned.pk])).status_code == 403
    for name in POST_ROUTES:
        response = client.post(reverse(f"console:{name}", args=[assigned.pk]), {"text": "x"})
        assert response.status_code == 403
    assert not ReviewNote.objects.exists()


def test_an_adviser_sees_only_assigned_households(client, adviser, assigned, unassigned) -> None:
    _as(client, adviser)
    page = client.get(reverse("console:households"))
    assert page.status_code == 200
    assert assigned.email.encode() in page.content and unassigned.email.encode() not in page.content
    for name in HOUSEHOLD_ROUTES:
        assert client.get(reverse(f"console:{name}", args=[assigned.pk])).status_code == 200
        assert client.get(reverse(f"console:{name}", args=[unassigned.pk])).status_code == 404
    for name in POST_ROUTES:
        response = client.post(reverse(f"console:{name}", args=[unassigned.pk]), {"text": "x"})
        assert response.status_code == 404
    assert not ReviewNote.objects.exists() and not ReviewSignOff.objects.exists()
    # a staff member is no household
    assert client.get(reverse("console:household", args=[adviser.pk])).status_code == 404


def test_superusers_and_see_all_advisers_reach_every_household(
    client, adviser, assigned, unassigned, settings
) -> None:
    boss = UserFactory(email="boss@example.com", is_staff=True, is_superuser=True)
    _as(client, boss)
    assert client.get(reverse("console:household", args=[unassigned.pk])).status_code == 200
    settings.ADVISOR_CONSOLE_SEE_ALL = True
    _as(client, adviser)
    assert client.get(reverse("console:household", args=[unassigned.pk])).status_code == 200


def test_filtering_by_a_flag_and_searching(client, adviser, assigned, settings) -> None:
    settings.ADVISOR_CONSOLE_SEE_ALL = True
    other = clean_household("calm@example.com").owner
    _as(client, adviser)
    page = client.get(reverse("console:households"), {"flag": "stale"})
    assert assigned.email.encode() in page.content and other.email.encode() not in page.content
    assert b"Questionnaire last answered" in page.content
    page = client.get(reverse("console:households"), {"q": "calm", "flag": "bogus", "page": "x"})
    assert other.email.encode() in page.content and assigned.email.encode() not in page.content


def test_opening_a_household_is_audited_and_shows_its_timeline(client, adviser, assigned) -> None:
    audit.record("test.advice", household=assigned, actor=assigned, summary="a visible event")
    _as(client, adviser)
    page = client.get(reverse("console:household", args=[assigned.pk]))
    assert b"a visible event" in page.content and b"Allocation vs target" in page.content
    event = AuditEvent.objects.get(action="staff.viewed_household")
    assert (event.actor, event.household) == (adviser, assigned)
    assert set(event.data["request"]) == {"session", "ip"}


def test_a_note_and_a_sign_off_are_recorded_and_audited(client, adviser, assigned, today) -> None:
    _as(client, adviser)
    url = reverse("console:add_note", args=[assigned.pk])
    assert client.post(url, {"text": "   "}).status_code == 302
    assert not ReviewNote.objects.exists()
    client.post(url, {"text": "Called the client about the questionnaire."})
    note = ReviewNote.objects.get()
    assert (note.author, note.household) == (adviser, assigned)
    sign_off = reverse("console:sign_off", args=[assigned.pk])
    for bad in (
        {"result": "suitable", "next_review_on": today.isoformat()},  # not after today
        {"result": "great", "next_review_on": (today + relativedelta(months=6)).isoformat()},
        {"result": "suitable", "next_review_on": "2026-13-45"},
        {"result": "suitable", "next_review_on": (today + relativedelta(years=9)).isoformat()},
    ):
        client.post(sign_off, bad)
    assert not ReviewSignOff.objects.exists()
    next_review = today + relativedelta(years=1)
    client.post(sign_off, {"result": "suitable", "next_review_on": next_review.isoformat()})
    review = ReviewSignOff.objects.get()
    assert (review.reviewer, review.result, review.next_review_on) == (
        adviser, "suitable", next_review
    )  # fmt: skip
    actions = list(
        AuditEvent.objects.filter(household=assigned, actor=adviser)
        .exclude(action__startswith="staff.")
        .values_list("action", flat=True)
    )
    assert sorted(actions) == ["review.note_added", "review.signed_off"]
    assert audit.verify().ok


def test_a_sign_off_asks_for_a_recent_second_factor(client, adviser, assigned, today) -> None:
    client.force_login(adviser)  # signed in long ago as far as the session knows
    response = client.post(
        reverse("console:sign_off", args=[assigned.pk]),
        {"result": "suitable", "next_review_on": (today + relativedelta(years=1)).isoformat()},
    )
    assert response.status_code == 302 and "reauthenticate" in response["Location"]
    assert not ReviewSignOff.objects.exists()


def test_the_csv_export_neutralises_formulas_and_carries_the_hashes(
    client, adviser, assigned, today
) -> None:
    assessment(assigned, level=4)  # answered again today: in the period
    audit.record("test.advice", household=assigned, actor=assigned, summary='=HYPERLINK("x")')
    audit.record("test.advice", household=assigned, actor=assigned, summary="@SUM(A1)")
    _as(client, adviser)
    response = client.get(
        reverse("console:export_csv", args=[assigned.pk]),
        {"start": (today - relativedelta(days=3)).isoformat(), "end": today.isoformat()},
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    audits = [r for r in rows if r["record"] == "audit"]
    summaries = {r["summary"] for r in audits}
    assert '\'=HYPERLINK("x")' in summaries and "'@SUM(A1)" in summaries
    assert all(len(r["hash"]) == 64 for r in audits)
    assert {r["record"] for r in rows} >= {"risk_profile", "audit"}
    for cell in (r[k] for r in rows for k in r):
        assert not cell.startswith(("=", "+", "-", "@"))
    assert AuditEvent.objects.filter(action="staff.exported_csv", actor=adviser).count() == 1


def test_neutralise() -> None:
    assert [neutralise(v) for v in ("=1+1", "+1", "-5.00", "@x", "\tx", "ok", None, 3)] == [
        "'=1+1", "'+1", "'-5.00", "'@x", "'\tx", "ok", "", "3",
    ]  # fmt: skip


def test_an_export_period_is_checked(client, adviser, assigned, today) -> None:
    _as(client, adviser)
    url = reverse("console:export_csv", args=[assigned.pk])
    future = (today + relativedelta(days=2)).isoformat()
    assert client.get(url, {"start": future}).status_code == 302
    backwards = {"start": today.isoformat(), "end": (today - relativedelta(days=2)).isoformat()}
    assert client.get(url, backwards).status_code == 302
    report = client.get(reverse("console:report", args=[assigned.pk]))
    assert report.status_code == 200 and b"Audit entries" in report.content
    assert clock.today() == today
