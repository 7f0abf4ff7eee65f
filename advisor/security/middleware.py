"""Security middleware: response headers, session timeouts, a second factor for staff."""

from collections.abc import Callable

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import urlencode

from advisor.core import clock

SESSION_STARTED = "_advisor_session_started"
SESSION_SEEN = "_advisor_session_seen"
# Write the last-seen time at most this often (seconds): a session save per request is waste.
SEEN_RESOLUTION = 60


class SecurityHeadersMiddleware:
    """Every dynamic response is private: `Cache-Control: no-store` unless the view said
    otherwise (pages, the API and downloads hold people's money data); no `Server` banner;
    an HTML response always carries a CSP nonce (django-csp adds it to the header only once
    something asked for it). Static files are answered by WhiteNoise before this runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            patch_cache_control(response, no_store=True, private=True)
        if "Server" in response:
            del response["Server"]
        if response.get("Content-Type", "").startswith("text/html"):
            str(getattr(request, "csp_nonce", ""))
        return response


def start_session_clock(request: HttpRequest) -> None:
    """At sign-in (user_logged_in): the absolute and idle timeouts count from now."""
    now = clock.now().timestamp()
    request.session[SESSION_STARTED] = now
    request.session[SESSION_SEEN] = now


class SessionTimeoutMiddleware:
    """Sign the user out after ADVISOR_SESSION_IDLE_MINUTES without a request, and
    ADVISOR_SESSION_MAX_HOURS after the session started, whatever the activity."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = clock.now().timestamp()
            started = request.session.get(SESSION_STARTED)
            seen = request.session.get(SESSION_SEEN)
            idle = settings.ADVISOR_SESSION_IDLE_MINUTES * 60
            longest = settings.ADVISOR_SESSION_MAX_HOURS * 3600
            if started is None or seen is None:
                request.session[SESSION_STARTED] = started or now
                request.session[SESSION_SEEN] = now
            elif now - seen > idle or now - started > longest:
                logout(request)
                return _signed_out(request)
            elif now - seen > SEEN_RESOLUTION:
                request.session[SESSION_SEEN] = now
        return self.get_response(request)


def _signed_out(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Your session has ended; sign in again."}, status=401)
    messages.info(request, "Your session ended; please sign in again.")
    login = reverse("account_login")
    if request.headers.get("HX-Request") == "true":
        response = HttpResponse(status=204)
        response["HX-Redirect"] = login
        return response
    if request.method == "GET":
        return redirect(f"{login}?{urlencode({'next': request.get_full_path()})}")
    return redirect(login)


class RequireMFAMiddleware:
    """Staff (and every user when ADVISOR_REQUIRE_MFA is on) must set up a second factor
    before using anything else: until then every page leads to the security settings."""

    ALLOWED_PREFIXES = ("/accounts/", "/static/", "/healthz")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and (user.is_staff or settings.ADVISOR_REQUIRE_MFA)
            and not request.path.startswith(self.ALLOWED_PREFIXES)
            and not is_mfa_enabled(user)
        ):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"detail": "Set up two-factor authentication first."}, status=403
                )
            messages.warning(
                request,
                "Set up two-factor authentication (an authenticator app or a passkey) first.",
            )
            return redirect("mfa_index")
        return self.get_response(request)
