from django.urls import path

from wxnotify.callbacks import log_views

app_name = "callbacks_log"
urlpatterns = [
    path("", log_views.inbound_log, name="log"),
    path("<int:pk>/", log_views.inbound_detail, name="detail"),
]
