from django.urls import path

from rebalancing.views import drift, proposals, taxes

app_name = "rebalancing"

urlpatterns = [
    path("", proposals.inbox, name="inbox"),
    path("<int:pk>/", proposals.detail, name="detail"),
    path("<int:pk>/approve/", proposals.approve, name="approve"),
    path("<int:pk>/reject/", proposals.reject, name="reject"),
    path("<int:pk>/status/", proposals.status, name="status"),
    path("<int:pk>/recheck/", proposals.recheck, name="recheck"),
    path("accounts/<int:pk>/check-now/", drift.check_now, name="check_now"),
    path("accounts/<int:pk>/scan-status/", drift.scan_status, name="scan_status"),
    path("notifications/", proposals.notification_list, name="notifications"),
    path("notifications/read/", proposals.notifications_read, name="notifications_read"),
    path("taxes/", taxes.report, name="tax_report"),
    path("taxes/<int:year>/", taxes.report, name="tax_report_year"),
    path("taxes/<int:year>/form-8949.csv", taxes.report_csv, name="tax_report_csv"),
]
