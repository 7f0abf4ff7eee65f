"""allauth adapter: rate-limit keys nobody can use against another person, and no mail to an
address its owner has not verified (except the mail that verifies it, which names nobody)."""

import logging
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from django.http import HttpRequest

logger = logging.getLogger(__name__)

# Mails that go to an address not (yet) verified: the verification itself, and the answers to
# someone typing an address at sign-up or password reset (they name no account).
TO_UNVERIFIED = frozenset(
    {
        "account/email/email_confirmation",
        "account/email/email_confirmation_signup",
        "account/email/unknown_account",
        "account/email/account_already_exists",
    }
)


def is_verified(email: str) -> bool:
    return EmailAddress.objects.filter(email__iexact=email, verified=True).exists()


class AccountAdapter(DefaultAccountAdapter):
    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        """Failed sign-ins count per (client address, email): a stranger guessing someone's
        password from elsewhere locks out only themselves. The per-address limit still bounds
        each client's guesses over all accounts."""
        login = super()._get_login_attempts_cache_key(request, **credentials)
        return f"{self.get_client_ip(request)}|{login}"

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        if template_prefix not in TO_UNVERIFIED and not is_verified(email):
            logger.info("not mailing %s to an unverified address", template_prefix)
            return
        super().send_mail(template_prefix, email, context)
