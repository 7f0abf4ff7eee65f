from django.urls import path

from rebalancing import drift_views, tax_views, views

app_name = "rebalancing"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/approve/", views.approve, name="approve"),
    path("<int:pk>/reject/", views.reject, name="reject"),
    path("<int:pk>/status/", views.status, name="status"),
    path("<int:pk>/recheck/", views.recheck, name="recheck"),
    path("accounts/<int:pk>/check-now/", drift_views.check_now, name="check_now"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("taxes/", tax_views.report, name="tax_report"),
    path("taxes/<int:year>/", tax_views.report, name="tax_report_year"),
    path("taxes/<int:year>/form-8949.csv", tax_views.report_csv, name="tax_report_csv"),
]
