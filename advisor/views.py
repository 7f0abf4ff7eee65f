from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard_placeholder.html", {"nav": "dashboard"})


def methodology(request: HttpRequest) -> HttpResponse:
    return render(request, "placeholder.html", {"title": "Methodology", "nav": "methodology"})
