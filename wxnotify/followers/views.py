"""The follower list of the current account."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from wxnotify.accounts.access import account_required
from wxnotify.console.paging import keyset_page
from wxnotify.followers.models import Follower


@account_required()
def follower_list(request: HttpRequest) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    followers = Follower.objects.filter(account=account)
    state = request.GET.get("state", "following")
    if state == "following":
        followers = followers.filter(is_following=True)
    elif state == "unfollowed":
        followers = followers.filter(is_following=False)
    query = request.GET.get("q", "").strip()
    if query:
        followers = followers.filter(openid__startswith=query)
    context = {
        "page": keyset_page(request, followers),
        "state": state,
        "q": query,
        "following_count": Follower.objects.filter(account=account, is_following=True).count(),
    }
    return render(request, "followers/list.html", context)
