from django.urls import path

from portfolios.construction import views

app_name = "lab"

urlpatterns = [
    path("", views.lab, name="index"),
    path("adopt/", views.adopt, name="adopt"),
]
