from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from advisor import api, health, views

# The admin signs in through allauth: its rate limits and second factor, one login page.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("methodology/", views.methodology, name="methodology"),
    path("healthz", health.healthz, name="healthz"),
    path("accounts/", include("allauth.urls")),
    path("profile/", include("accounts.urls")),
    path("profile/", include("portfolios.onboarding.urls")),
    path("portfolios/", include("portfolios.urls")),
    path("portfolios/", include("rebalancing.money_urls")),
    path("goals/", include("portfolios.goals.urls")),
    path("performance/", include("advisor.performance")),
    path("construction/", include("portfolios.construction.urls")),
    path("lab/", include("portfolios.construction.lab_urls")),
    path("proposals/", include("rebalancing.urls")),
    path("console/", include("advisor.console.urls")),
    path("backtests/", include("rebalancing.backtest_urls")),
    path("settings/", include("rebalancing.settings_urls")),
    path("api/", include(api.router.urls)),
    path("admin/", admin.site.urls),
]
