"""Is a SECRET_KEY fit for production?

Settings do not refuse a missing key at import: commands that sign nothing (makemigrations,
migrate, check) run without one, and Django itself refuses to sign with an empty key. What
serves requests or runs work (advisor/wsgi.py, asgi.py, the Celery worker and beat) calls
`require_strong` as it starts, so production never runs on a missing or published key.
"""

from django.core.exceptions import ImproperlyConfigured

# Keys that are public because they appear in this repository or its documentation.
PUBLIC_KEYS = frozenset(
    {
        "dev-only-insecure-key-set-DJANGO_SECRET_KEY-in-production-0123456789",
        "change-me-to-a-long-random-string-of-at-least-50-characters-0123456789",
    }
)
MIN_LENGTH = 50
MIN_UNIQUE_CHARACTERS = 5


def weakness(key: str) -> str | None:
    """Why `key` must not sign production sessions, or None when it may."""
    if not key:
        return "DJANGO_SECRET_KEY is not set"
    if key in PUBLIC_KEYS or key.startswith(("django-insecure-", "change-me", "dev-only")):
        return "DJANGO_SECRET_KEY is a published development key"
    if len(key) < MIN_LENGTH or len(set(key)) < MIN_UNIQUE_CHARACTERS:
        return (
            f"DJANGO_SECRET_KEY is too short or too simple (at least {MIN_LENGTH} characters, "
            f"{MIN_UNIQUE_CHARACTERS} different ones)"
        )
    return None


def configured_key() -> str:
    """The settings' key, "" when unset (Django refuses to read an empty one)."""
    from django.conf import settings

    try:
        return str(settings.SECRET_KEY)
    except ImproperlyConfigured:
        return ""


def require_strong() -> None:
    """Refuse to start a server or worker without a strong key (a DEBUG run may use the
    development key)."""
    from django.conf import settings

    if settings.DEBUG:
        return
    if reason := weakness(configured_key()):
        raise ImproperlyConfigured(
            f"{reason}. Production refuses to start without a strong key: set it to 50+ random "
            "characters, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
        )
