from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "advisor.security"
    label = "security"
    verbose_name = "Security"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from advisor.security import checks, middleware  # noqa: F401 - registers the checks

        def _start_clock(sender: object, request: object, **kwargs: object) -> None:
            if request is not None and hasattr(request, "session"):
                middleware.start_session_clock(request)  # type: ignore[arg-type]

        user_logged_in.connect(
            _start_clock, weak=False, dispatch_uid="advisor.security.session_clock"
        )

        from django.apps import apps
        from django.db.models.signals import post_migrate

        from advisor.security import db_roles

        # After every migrate (the accounts app's signal: this app has no models of its own).
        post_migrate.connect(
            db_roles.grant_runtime_role,
            sender=apps.get_app_config("accounts"),
            dispatch_uid="advisor.security.grant_runtime_role",
        )
