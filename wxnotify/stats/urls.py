from django.urls import path

from wxnotify.stats import views

app_name = "stats"
urlpatterns = [
    path("subscriptions/", views.subscriptions, name="subscriptions"),
    path("menu/", views.menu, name="menu"),
    path("followers/", views.followers, name="followers"),
    path("sparklines.json", views.sparklines, name="sparklines"),
    path("notifications/", views.notifications, name="notifications"),
    path("report/", views.report, name="report"),
    path("notifications/<int:pk>/", views.notification, name="notification"),
]
