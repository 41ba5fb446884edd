"""What a patient opens from a notification: the tracked link (no login, no session: the code is the proof)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET

from wxnotify.campaigns import services


@login_not_required
@require_GET
def follow_link(request: HttpRequest, code: str) -> HttpResponse:
    target = services.record_click(code=code)
    if target is None:
        return render(request, "campaigns/link_invalid.html", status=400)
    return HttpResponseRedirect(target)
