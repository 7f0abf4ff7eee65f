from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.profile, name="profile"),
    path("questionnaire/", views.questionnaire_start, name="questionnaire"),
    path("questionnaire/<int:step>/", views.questionnaire_step, name="questionnaire_step"),
    path("assessments/<int:pk>/", views.assessment_detail, name="assessment"),
    path("assessments/<int:pk>/accept/", views.accept, name="accept"),
]
