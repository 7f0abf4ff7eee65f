from django.contrib import admin
from django.urls import include, path

from advisor import api, health, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("methodology/", views.methodology, name="methodology"),
    path("healthz", health.healthz, name="healthz"),
    path("accounts/", include("allauth.urls")),
    path("profile/", include("accounts.urls")),
    path("profile/", include("portfolios.onboarding.urls")),
    path("portfolios/", include("portfolios.urls")),
    path("goals/", include("portfolios.goals.urls")),
    path("proposals/", include("rebalancing.urls")),
    path("api/", include(api.router.urls)),
    path("admin/", admin.site.urls),
]
