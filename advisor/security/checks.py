"""`manage.py check --deploy` fails on a development or weak secret key (servers and workers
refuse to start with one when DEBUG is off: `secret_key.require_strong`)."""

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

from advisor.security import secret_key


@register(Tags.security, deploy=True)
def check_secret_key(**kwargs: object) -> list[CheckMessage]:
    reason = secret_key.weakness(secret_key.configured_key())
    if reason is None:
        return []
    return [
        Error(
            f"{reason}.",
            hint="Set DJANGO_SECRET_KEY to 50+ random characters.",
            id="advisor.E001",
        )
    ]


@register(Tags.caches, deploy=True)
def check_shared_cache(**kwargs: object) -> list[CheckMessage]:
    backend = settings.CACHES["default"]["BACKEND"]
    if backend.endswith("RedisCache"):
        return []
    return [
        Error(
            "The cache is not shared by the web processes: sign-in rate limits and used "
            "TOTP codes are only counted per process.",
            hint="Set REDIS_URL (or CACHE_URL) to a Redis server.",
            id="advisor.E002",
        )
    ]
