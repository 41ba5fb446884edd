from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from wxnotify.console import views

console_patterns = (
    [
        path("", views.home, name="home"),
        path("switch-account", views.switch_account, name="switch_account"),
        path("no-account", views.no_account, name="no_account"),
    ],
    "console",
)

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="console/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("set-language/", login_not_required(set_language), name="set_language"),
    path("accounts/", include("wxnotify.accounts.urls")),
    path("followers/", include("wxnotify.followers.urls")),
    path("", include("wxnotify.subscriptions.urls")),
    path("campaigns/", include("wxnotify.campaigns.urls")),
    path("inbound/", include("wxnotify.callbacks.log_urls")),
    path("engagement/", include("wxnotify.engagement.urls")),
    path("stats/", include("wxnotify.stats.urls")),
    path("api-tokens/", include("wxnotify.api.console_urls")),
    path("privacy/", include("wxnotify.privacy.urls")),
    path("", include(console_patterns)),
]
