from django.urls import path

from wxnotify.campaigns import public_views

app_name = "click"
urlpatterns = [
    path("<str:code>", public_views.follow_link, name="follow"),
]
