from django.urls import path

from portfolios.performance import views

app_name = "performance"

urlpatterns = [
    path("", views.household, name="household"),
    path("accounts/<int:pk>/", views.account, name="account"),
]
