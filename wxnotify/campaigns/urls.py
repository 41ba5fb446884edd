from django.urls import path

from wxnotify.campaigns import views

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_compose, name="new"),
    path("previewers/", views.previewers, name="previewers"),
    path("audit/", views.audit_log, name="audit"),
    path("audit/<int:pk>/content/", views.audit_content, name="audit_content"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/edit/", views.campaign_compose, name="edit"),
    path("<int:pk>/log/", views.campaign_log, name="log"),
    path("<int:pk>/log.csv", views.campaign_log_export, {"fmt": "csv"}, name="log_csv"),
    path("<int:pk>/log.xlsx", views.campaign_log_export, {"fmt": "xlsx"}, name="log_xlsx"),
    path("<int:pk>/<str:action>", views.campaign_action, name="action"),
    path("templates/<int:pk>/history/", views.template_history, name="template_history"),
]
