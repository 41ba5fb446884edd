from django.urls import path

from wxnotify.privacy import views

app_name = "privacy"
urlpatterns = [path("", views.requests, name="requests")]
