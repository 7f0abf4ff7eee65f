from django.urls import path

from portfolios import goal_views

app_name = "goals"

urlpatterns = [
    path("", goal_views.goal_list, name="list"),
    path("new/", goal_views.goal_edit, name="create"),
    path("<int:pk>/", goal_views.goal_detail, name="detail"),
    path("<int:pk>/edit/", goal_views.goal_edit, name="edit"),
    path("<int:pk>/delete/", goal_views.goal_delete, name="delete"),
]
