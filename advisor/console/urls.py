from django.urls import path

from advisor.console import views

app_name = "console"

urlpatterns = [
    path("", views.households, name="households"),
    path("households/<int:pk>/", views.household, name="household"),
    path("households/<int:pk>/notes/", views.add_note, name="add_note"),
    path("households/<int:pk>/sign-off/", views.sign_off, name="sign_off"),
    path("households/<int:pk>/export.csv", views.export_csv, name="export_csv"),
    path("households/<int:pk>/report/", views.report, name="report"),
]
