"""Against gunicorn with 3 workers, as the Dockerfile runs it: the admin signs in through
allauth, failed sign-ins and used TOTP codes are counted in the shared cache (not per worker),
and responses carry no banner and no cacheable private data."""

import threading

import pyotp
import pytest

from tests.factories import PASSWORD, UserFactory
from tests.security.http import Visitor

pytestmark = pytest.mark.django_db(transaction=True)

WRONG = "not-the-password-at-all"


def _signed_in(visitor: Visitor) -> bool:
    response = visitor.get("/")
    return response.status_code == 200 and "Sign out" in response.text


def test_admin_login_goes_through_allauth_and_needs_the_second_factor(gunicorn) -> None:
    staff = UserFactory(email="adviser@example.com", is_staff=True, is_superuser=True)
    visitor = Visitor(gunicorn.url)
    page = visitor.get("/admin/login/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/accounts/login/")
    # Passwords posted to the admin's own form are never checked: every one is sent away.
    for _ in range(30):
        response = visitor.client.post(
            "/admin/login/", data={"username": staff.email, "password": WRONG}
        )
        assert response.status_code in (302, 403)
    # The password alone leads to the second-factor step, not into the admin.
    response = visitor.sign_in(staff.email, PASSWORD)
    assert (
        response.status_code == 302
        and "/accounts/2fa/authenticate/" in response.headers["Location"]
    )
    assert visitor.get("/admin/").status_code == 302
    assert not _signed_in(visitor)
    code = pyotp.TOTP(staff.totp_secret).at(gunicorn.now())
    done = visitor.post_form("/accounts/2fa/authenticate/", {"code": code})
    assert done.status_code == 302
    assert visitor.get("/admin/").status_code == 200


def test_failed_sign_ins_lock_out_across_workers_but_only_that_client(gunicorn) -> None:
    victim = UserFactory(email="victim@example.com")
    attacker = Visitor(gunicorn.url, source="127.0.0.2")
    for _ in range(5):  # each POST on a new connection, spread over the workers
        attacker.client.close()
        attacker = Visitor(gunicorn.url, source="127.0.0.2")
        response = attacker.sign_in(victim.email, WRONG)
        assert response.status_code == 200  # the form again, with an error
    # Locked out: now the right password is refused to this client too, whichever worker answers.
    for _ in range(3):
        fresh = Visitor(gunicorn.url, source="127.0.0.2")
        response = fresh.sign_in(victim.email, PASSWORD)
        assert response.status_code in (200, 429)
        assert "Too many failed login attempts" in response.text
        assert not _signed_in(fresh)
    # The victim, from their own address, is not locked out by the stranger.
    owner = Visitor(gunicorn.url, source="127.0.0.3")
    assert owner.sign_in(victim.email, PASSWORD).status_code == 302
    assert _signed_in(owner)


def test_one_totp_code_signs_in_one_session_of_three_parallel_ones(gunicorn) -> None:
    user = UserFactory(email="mfa@example.com", totp=True)
    sessions = [Visitor(gunicorn.url) for _ in range(3)]
    for visitor in sessions:
        response = visitor.sign_in(user.email, PASSWORD)
        assert "/accounts/2fa/authenticate/" in response.headers["Location"]
    code = pyotp.TOTP(user.totp_secret).at(gunicorn.now())
    tokens = []
    for visitor in sessions:
        page = visitor.get("/accounts/2fa/authenticate/")
        tokens.append(visitor.client.cookies.get("csrftoken"))
        assert 'name="code"' in page.text
    start = threading.Barrier(len(sessions))
    results: list[int] = [0] * len(sessions)

    def submit(index: int) -> None:
        visitor = sessions[index]
        start.wait()
        response = visitor.client.post(
            "/accounts/2fa/authenticate/",
            data={"csrfmiddlewaretoken": tokens[index], "code": code},
        )
        results[index] = response.status_code

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(sessions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [200, 200, 302], results
    assert sum(_signed_in(v) for v in sessions) == 1


def test_responses_have_no_banner_and_private_ones_are_not_stored(gunicorn, today) -> None:
    user = UserFactory(email="headers@example.com")
    visitor = Visitor(gunicorn.url)
    login_page = visitor.get("/accounts/login/")
    assert "server" not in login_page.headers
    assert "no-store" in login_page.headers["Cache-Control"]
    assert visitor.sign_in(user.email, PASSWORD).status_code == 302
    for path in (
        "/",
        "/portfolios/",
        "/api/portfolios/",
        f"/proposals/taxes/{today.year}/form-8949.csv",
    ):
        response = visitor.get(path)
        assert response.status_code == 200, path
        assert "no-store" in response.headers["Cache-Control"], path
        assert "server" not in response.headers, path
    health = Visitor(gunicorn.url).get("/healthz")
    assert health.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}
