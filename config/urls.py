"""Top-level routes: the WeChat callback, the console, auth and language switching."""

from django.urls import include, path

from wxnotify.console.views import favicon

urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("wechat/", include("wxnotify.callbacks.urls")),
    path("api/v1/", include("wxnotify.api.urls")),
    path("s/", include("wxnotify.subscriptions.public_urls")),
    path("r/", include("wxnotify.campaigns.public_urls")),
    path("", include("wxnotify.console.urls")),
]
