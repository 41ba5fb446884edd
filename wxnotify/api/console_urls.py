from django.urls import path

from wxnotify.api import views

app_name = "api_tokens"
urlpatterns = [
    path("", views.token_list, name="list"),
    path("calls/", views.calls, name="calls"),
    path("webhooks/", views.webhook_list, name="webhooks"),
]
