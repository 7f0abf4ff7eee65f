"""The REST API router. Each app registers its viewsets from its own api.py."""

from rest_framework.routers import DefaultRouter

router = DefaultRouter()
