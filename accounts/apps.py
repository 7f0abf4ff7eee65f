from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"

    def ready(self) -> None:
        from accounts import audit, auth_events
        from accounts.db import install_audit_guard
        from advisor.core import lookups  # noqa: F401  (registers the `__any` lookup)

        post_migrate.connect(install_audit_guard, sender=self, dispatch_uid="accounts.audit_guard")
        post_migrate.connect(
            audit.ensure_chain_head, sender=self, dispatch_uid="accounts.audit_chain_head"
        )
        auth_events.connect()
