"""The follower list of the current account."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from wxnotify.accounts.access import AccountRequest, account_required
from wxnotify.console.paging import keyset_page
from wxnotify.console.params import as_text
from wxnotify.followers.models import Follower
from wxnotify.followers.tasks import sync_account_followers


@account_required()
def follower_list(request: AccountRequest) -> HttpResponse:
    account = request.account
    followers = Follower.objects.filter(account=account)
    state = request.GET.get("state", "following")
    if state == "following":
        followers = followers.filter(is_following=True)
    elif state == "unfollowed":
        followers = followers.filter(is_following=False)
    query = as_text(request.GET.get("q"), max_length=64)
    if query:
        followers = followers.filter(openid__startswith=query)
    context = {
        "page": keyset_page(request, followers),
        "state": state,
        "q": query,
        "following_count": Follower.objects.filter(account=account, is_following=True).count(),
    }
    return render(request, "followers/list.html", context)


@require_POST
@account_required("administer")
def start_sync(request: AccountRequest) -> HttpResponse:
    """Queue a follower sync with WeChat; the worker runs it (it can take minutes for a big account)."""
    account = request.account
    transaction.on_commit(lambda: sync_account_followers(account.pk))
    messages.success(request, _("已开始从微信同步粉丝列表，完成后本页数字会更新。"))
    return redirect("followers:list")
