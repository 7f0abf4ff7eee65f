from django.urls import path

from portfolios.onboarding import views

app_name = "onboarding"

urlpatterns = [
    path("questionnaire/", views.questionnaire_start, name="questionnaire"),
    path("questionnaire/<int:step>/", views.questionnaire_step, name="questionnaire_step"),
    path("assessments/<int:pk>/", views.assessment_detail, name="assessment"),
    path("assessments/<int:pk>/accept/", views.accept, name="accept"),
    path("accounts/<int:pk>/fund/", views.fund, name="fund"),
]
