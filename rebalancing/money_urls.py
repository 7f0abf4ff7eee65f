from django.urls import path

from rebalancing.views import money

app_name = "money"

urlpatterns = [
    path("<int:pk>/deposit/", money.deposit, name="deposit"),
    path("<int:pk>/withdraw/", money.withdraw, name="withdraw"),
    path("withdrawals/<int:pk>/cancel/", money.withdraw_cancel, name="withdraw_cancel"),
    path("<int:pk>/contributions/", money.contributions, name="contributions"),
    path("contributions/<int:pk>/stop/", money.contribution_stop, name="contribution_stop"),
]
