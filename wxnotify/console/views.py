"""Console frame pages: dashboard, account switching, the empty state."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from wxnotify.accounts.access import SESSION_KEY, AccountRequest, account_required, accounts_for
from wxnotify.callbacks.models import InboundMessage
from wxnotify.console import selectors
from wxnotify.console.params import as_int
from wxnotify.followers.models import Follower, FollowerChange


@account_required()
def home(request: AccountRequest) -> HttpResponse:
    account = request.account
    now = timezone.now()
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    changes = FollowerChange.objects.filter(account=account, occurred_at__gte=today)
    stats = {
        "following": Follower.objects.filter(account=account, is_following=True).count(),
        "follows_today": changes.filter(kind=FollowerChange.Kind.FOLLOW).count(),
        "unfollows_today": changes.filter(kind=FollowerChange.Kind.UNFOLLOW).count(),
        "inbound_24h": InboundMessage.objects.filter(account=account, received_at__gte=now - timedelta(days=1)).count(),
    }
    live = {"stats": stats, "recent": InboundMessage.objects.filter(account=account).defer("body")[:10]}
    if request.GET.get("partial") == "live":
        return render(request, "console/home.html#live", live)
    callback_url = settings.WXNOTIFY_PUBLIC_URL + reverse("callbacks:callback", args=[account.appid])
    context = live | {"callback_url": callback_url, "overview": selectors.overview(account, today=today)}
    return render(request, "console/home.html", context)


@require_POST
def switch_account(request: HttpRequest) -> HttpResponse:
    account = accounts_for(request.user).filter(pk=as_int(request.POST.get("account")) or 0).first()
    if account is not None:
        request.session[SESSION_KEY] = account.pk
    return redirect("console:home")


def no_account(request: HttpRequest) -> HttpResponse:
    return render(request, "console/no_account.html")


@login_not_required
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask for /favicon.ico whatever the page says (a JSON answer, a download): the same icon. Its
    hashed name is looked up when asked, not when the URLs load (a management command collects nothing)."""
    return HttpResponseRedirect(static("console/favicon.svg"))
