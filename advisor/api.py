"""The REST API router: each app lists its viewsets in its api.py (`ROUTES`), registered here."""

from rest_framework.routers import DefaultRouter

from portfolios import api as portfolios_api

router = DefaultRouter()
for prefix, viewset, basename in portfolios_api.ROUTES:
    router.register(prefix, viewset, basename=basename)
