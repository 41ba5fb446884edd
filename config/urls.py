"""Top-level routes: the WeChat callback, the console, auth and language switching."""

from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic.base import RedirectView

urlpatterns = [
    # Browsers ask for /favicon.ico whatever the page says (a JSON answer, a download): the same icon.
    path(
        "favicon.ico",
        login_not_required(RedirectView.as_view(url=static("console/favicon.svg"), permanent=False)),
        name="favicon",
    ),
    path("wechat/", include("wxnotify.callbacks.urls")),
    path("s/", include("wxnotify.subscriptions.public_urls")),
    path("r/", include("wxnotify.campaigns.public_urls")),
    path("", include("wxnotify.console.urls")),
]
