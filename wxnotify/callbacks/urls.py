from django.urls import path

from wxnotify.callbacks.views import callback

app_name = "callbacks"
urlpatterns = [path("<str:appid>/callback", callback, name="callback")]
