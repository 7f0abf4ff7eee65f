from django.urls import path

from portfolios import views

app_name = "portfolios"

urlpatterns = [
    path("", views.account_list, name="list"),
    path("new/", views.account_create, name="create"),
    path("<int:pk>/", views.account_detail, name="detail"),
    path("<int:pk>/edit/", views.account_edit, name="edit"),
    path("<int:pk>/transactions/new/", views.transaction_create, name="transaction_create"),
    path("<int:pk>/import/", views.import_upload, name="import"),
    path("prices/import/", views.price_import_upload, name="price_import"),
    path("imports/<int:pk>/", views.import_preview, name="import_preview"),
    path("imports/<int:pk>/confirm/", views.import_confirm, name="import_confirm"),
    path("imports/<int:pk>/status/", views.import_status, name="import_status"),
]
