"""`/api/v1/`: the API authenticates each call by its token, never by a console login or session."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

from wxnotify.api.api import api
from wxnotify.api.edge import guarded


def _edge(patterns: list[URLPattern | URLResolver]) -> list[URLPattern | URLResolver]:
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            # LoginRequiredMiddleware would send an integration to the login page: its token is the proof.
            pattern.callback.login_required = False  # type: ignore[attr-defined]
            pattern.callback = guarded(pattern.callback)
        else:
            _edge(pattern.url_patterns)
    return patterns


urlpatterns = _edge(list(api.urls[0]))
app_name = "api"
