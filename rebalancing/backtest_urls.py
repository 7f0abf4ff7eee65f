from django.urls import path

from rebalancing.views import backtests

app_name = "backtests"

urlpatterns = [
    path("accounts/<int:pk>/", backtests.account, name="account"),
    path("accounts/<int:pk>/stress/", backtests.account_stress, name="account_stress"),
    path("runs/<int:pk>/status/", backtests.status, name="status"),
    path("stress/", backtests.household_stress, name="household_stress"),
]
