from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path

app_name = "portfolios"

urlpatterns = [
    path("", login_required(lambda request: render(request, "placeholder.html", {"title": "list"})), name="list"),
]
