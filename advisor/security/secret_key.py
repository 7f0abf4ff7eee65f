"""Is a SECRET_KEY fit for production? Read by settings.py before Django is set up."""

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
