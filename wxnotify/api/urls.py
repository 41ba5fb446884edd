"""`/api/v1/`: the API authenticates each call by its token, never by a console login or session."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

from wxnotify.api.api import api


def _without_login(patterns: list[URLPattern | URLResolver]) -> list[URLPattern | URLResolver]:
    # LoginRequiredMiddleware would send an integration to the login page: its token is the proof instead.
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            pattern.callback.login_required = False  # type: ignore[attr-defined]
        else:
            _without_login(pattern.url_patterns)
    return patterns


urlpatterns = _without_login(list(api.urls[0]))
app_name = "api"
