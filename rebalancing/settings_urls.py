from django.urls import path

from rebalancing.views import settings

# The investor's settings, mounted at /settings/.
app_name = "settings"

urlpatterns = [
    path("", settings.index, name="index"),
    path("tax/", settings.tax_profile, name="tax"),
    path("harvesting/", settings.harvesting, name="harvesting"),
    path("lot-relief/", settings.lot_relief, name="lot_relief"),
    path("notifications/", settings.notifications, name="notifications"),
    path("accounts/<int:pk>/policy/", settings.policy, name="policy"),
]
