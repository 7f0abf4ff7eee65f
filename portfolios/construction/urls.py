from django.urls import path

from portfolios.construction import views

app_name = "construction"

urlpatterns = [
    path("", views.index, name="index"),
    path("models/<int:pk>/", views.model_detail, name="model"),
    path("versions/<int:pk>/", views.version_detail, name="version"),
    path("versions/<int:pk>/publish/", views.publish, name="publish"),
    path("versions/<int:pk>/reject/", views.reject, name="reject"),
]
