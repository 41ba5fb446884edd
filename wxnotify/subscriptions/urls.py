from django.urls import path

from wxnotify.subscriptions import views

app_name = "subscriptions"
urlpatterns = [
    path("templates/", views.template_list, name="templates"),
    path("templates/sync", views.template_sync, name="template_sync"),
    path("templates/<int:pk>/", views.template_detail, name="template"),
    path("activities/", views.activity_list, name="activities"),
    path("activities/new/", views.activity_edit, name="activity_new"),
    path("activities/<int:pk>/", views.activity_detail, name="activity"),
    path("activities/<int:pk>/edit/", views.activity_edit, name="activity_edit"),
    path("activities/<int:pk>/qr.<str:fmt>", views.activity_qr, name="activity_qr"),
    path("activities/<int:pk>/poster/", views.activity_poster, name="activity_poster"),
]
