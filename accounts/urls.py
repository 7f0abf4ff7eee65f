from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import path

app_name = "accounts"

urlpatterns = [
    path("", login_required(lambda request: render(request, "placeholder.html", {"title": "profile"})), name="profile"),
]
