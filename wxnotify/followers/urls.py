from django.urls import path

from wxnotify.followers import views

app_name = "followers"
urlpatterns = [
    path("", views.follower_list, name="list"),
    path("sync", views.start_sync, name="sync"),
]
