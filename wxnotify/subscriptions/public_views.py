"""The patient-facing pages: no login, mobile-first, Chinese.

`/s/<code>/` learns the patient's openid by silent web OAuth (state bound to this browser's
session, single use), signs the JS-SDK config with the account's cached jsapi_ticket, and shows a
`wx-open-subscribe` button; the ledger changes only when WeChat pushes the popup event.
`/s/<code>/confirm` is the second way in: the older one-time-subscription confirm page.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from wechat.errors import WeChatError
from wechat.signature import jssdk_signature
from wxnotify.accounts.wechat import account_api
from wxnotify.subscriptions import services
from wxnotify.subscriptions.models import Activity, Subscription, Template

log = logging.getLogger(__name__)


def _public(path: str) -> str:
    return settings.WXNOTIFY_PUBLIC_URL + path


def _openid_key(activity: Activity) -> str:
    return f"wx_openid:{activity.account.appid}"


def _error(request: HttpRequest, message: str, status: int = 400, activity: Activity | None = None) -> HttpResponse:
    """A refusal in the patient's words, with the way back to the activity's page when we know it."""
    context = {"message": message, "activity": activity}
    return render(request, "subscriptions/public/error.html", context, status=status)


def _not_found(request: HttpRequest) -> HttpResponse:
    return _error(request, _("没有找到这个活动，可能已经结束或链接有误。"), 404)


def _take_state(request: HttpRequest, key: str, given: str) -> bool:
    """The CSRF state this browser was given for `key`, used once: True when `given` is it."""
    expected = request.session.pop(key, None)
    return bool(expected) and hmac.compare_digest(str(expected).encode(), given.encode())


def _activity(code: str) -> Activity | None:
    return Activity.objects.select_related("account").filter(code=code, archived=False, account__is_active=True).first()


def in_wechat(request: HttpRequest) -> bool:
    return settings.WXNOTIFY_ALLOW_OTHER_BROWSERS or "MicroMessenger" in request.headers.get("User-Agent", "")


@login_not_required
@require_GET
def subscribe_page(request: HttpRequest, code: str) -> HttpResponse:
    activity = _activity(code)
    if activity is None:
        return _not_found(request)
    page_url = _public(reverse("subscribe:page", args=[code]))
    if not in_wechat(request):
        return render(request, "subscriptions/public/outside_wechat.html", {"activity": activity, "page_url": page_url})
    openid = request.session.get(_openid_key(activity))
    if not openid:
        return _begin_oauth(request, activity, then="subscribe:page")
    services.record_visit(activity=activity, openid=openid)
    templates = [
        t
        for t in activity.templates.all()
        if t.status == Template.Status.ACTIVE and t.kind != Template.Kind.LEGACY_ONE_TIME
    ]
    config = _jssdk_config(activity, _public(request.get_full_path()))
    context = {
        "promise": promise(activity),
        "activity": activity,
        "templates": templates,
        "template_ids": ",".join(t.template_id for t in templates),
        "jssdk": config,
        "jssdk_url": settings.WECHAT_JSSDK_URL,
        "confirm_available": bool(activity.account.one_time_template_id),
        "page_config": {
            "jssdk": config,
            "statusUrl": reverse("subscribe:status", args=[code]),
            "promise": promise(activity),
        },
    }
    response = render(request, "subscriptions/public/page.html", context)
    # WeChat's JS-SDK script comes from WeChat (the simulator in the demo): this page, and only this page,
    # may load it and let it talk home. django-csp adds these to the site policy (its csp_update mechanism).
    wechat_js = _origin(settings.WECHAT_JSSDK_URL)
    response._csp_update = {"script-src": [wechat_js], "connect-src": [wechat_js]}  # type: ignore[attr-defined]
    return response


def promise(activity: Activity) -> str:
    """When the patient will hear from us, said once and the same everywhere on the page: for a vaccine or a
    check-up package when it arrives (the date is only expected), for a lecture or an event before it starts."""
    starts = timezone.localtime(activity.starts_at)
    when = f"{starts.month}月{starts.day}日 {starts:%H:%M}"
    if activity.kind == "vaccine":
        return _("疫苗到货、可以预约时（预计 %(when)s）") % {"when": when}
    if activity.kind == "checkup":
        return _("套餐上架、可以购买时（预计 %(when)s）") % {"when": when}
    if activity.kind == "live_lecture":
        return _("直播开始前（%(when)s）") % {"when": when}
    return _("活动开始前（%(when)s）") % {"when": when}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# Where the OAuth return may send the browser on: only these, never a URL the browser supplies.
_AFTER_OAUTH = ("subscribe:page", "subscribe:confirm")


def _begin_oauth(request: HttpRequest, activity: Activity, *, then: str) -> HttpResponse:
    """Learn who this patient is from WeChat (silent snsapi_base), then go on to `then`."""
    code = activity.code
    state = secrets.token_urlsafe(16)
    request.session[f"wx_oauth_state:{code}"] = state
    request.session[f"wx_oauth_then:{code}"] = then
    query = urlencode(
        {
            "appid": activity.account.appid,
            "redirect_uri": _public(reverse("subscribe:oauth", args=[code])),
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
        }
    )
    return HttpResponseRedirect(f"{settings.WECHAT_OAUTH_AUTHORIZE_URL}?{query}#wechat_redirect")


def _jssdk_config(activity: Activity, url: str) -> dict[str, Any] | None:
    async def ticket() -> str:
        async with account_api(activity.account) as api:
            return await api.jsapi_tickets.get()

    try:
        jsapi_ticket = async_to_sync(ticket)()
    except WeChatError as error:
        log.warning("no jsapi_ticket for %s: %s", activity.account.appid, error)
        return None
    timestamp, nonce = str(int(time.time())), secrets.token_urlsafe(12)
    return {
        "appId": activity.account.appid,
        "timestamp": timestamp,
        "nonceStr": nonce,
        "signature": jssdk_signature(jsapi_ticket=jsapi_ticket, noncestr=nonce, timestamp=timestamp, url=url),
    }


@login_not_required
@require_GET
def oauth_return(request: HttpRequest, code: str) -> HttpResponse:
    activity = _activity(code)
    if activity is None:
        return _not_found(request)
    if not _take_state(request, f"wx_oauth_state:{code}", request.GET.get("state", "")):
        log.warning("OAuth return with a forged or replayed state for activity %s", code)
        return _error(request, _("链接已失效，请从公众号文章或海报重新打开活动页。"), activity=activity)
    oauth_code = request.GET.get("code", "")
    if not oauth_code:
        return _error(request, _("微信没有完成授权，请重新打开活动页。"), activity=activity)

    async def exchange() -> str:
        async with account_api(activity.account) as api:
            data = await api.credentials.oauth_access_token(
                appid=activity.account.appid, secret=activity.account.app_secret, code=oauth_code
            )
            return str(data["openid"])

    try:
        openid = async_to_sync(exchange)()
    except WeChatError as error:
        log.warning("OAuth code exchange failed for activity %s: %s", code, error)
        return _error(request, _("微信授权已失效（授权码只能使用一次），请重新打开活动页。"), activity=activity)
    request.session[_openid_key(activity)] = openid
    request.session.cycle_key()
    then = request.session.pop(f"wx_oauth_then:{code}", "subscribe:page")
    return HttpResponseRedirect(reverse(then if then in _AFTER_OAUTH else "subscribe:page", args=[code]))


@login_not_required
@require_GET
def subscription_status(request: HttpRequest, code: str) -> JsonResponse:
    """What this patient can receive now, per template of the activity (the page shows it after accepting)."""
    activity = _activity(code)
    openid = request.session.get(_openid_key(activity)) if activity else None
    if activity is None or not openid:
        return JsonResponse({"error": "unknown"}, status=404)
    rows = {
        s.template_id: s
        for s in Subscription.objects.filter(template__activities=activity, openid=openid).select_related("template")
    }
    data = []
    for template in activity.templates.all():
        row = rows.get(template.pk)
        data.append(
            {
                "template_id": template.template_id,
                "title": template.title,
                "long_term": template.kind == Template.Kind.LONG_TERM,
                "credits": row.credits if row else 0,
                "can_receive": bool(row and row.can_receive),
            }
        )
    return JsonResponse({"templates": data})


@login_not_required
@require_GET
def confirm_start(request: HttpRequest, code: str) -> HttpResponse:
    activity = _activity(code)
    if activity is None or not activity.account.one_time_template_id:
        return _not_found(request)
    if not request.session.get(_openid_key(activity)):
        # WeChat does not sign the confirm page's redirect back: the openid in it proves nothing. Learn
        # the patient's openid by OAuth first, and accept only a return that names that patient.
        return _begin_oauth(request, activity, then="subscribe:confirm")
    reserved = secrets.token_hex(16)  # [a-zA-Z0-9], ≤128 bytes, as WeChat requires
    request.session[f"wx_confirm_state:{code}"] = reserved
    query = urlencode(
        {
            "action": "get_confirm",
            "appid": activity.account.appid,
            "scene": activity.pk % 10001,
            "template_id": activity.account.one_time_template_id,
            "redirect_url": _public(reverse("subscribe:confirmed", args=[code])),
            "reserved": reserved,
        }
    )
    return HttpResponseRedirect(f"{settings.WECHAT_SUBSCRIBEMSG_URL}?{query}#wechat_redirect")


@login_not_required
@require_GET
def confirm_return(request: HttpRequest, code: str) -> HttpResponse:
    activity = _activity(code)
    if activity is None:
        return _not_found(request)
    if not _take_state(request, f"wx_confirm_state:{code}", request.GET.get("reserved", "")):
        return _error(request, _("链接已失效，请从活动页重新订阅。"), activity=activity)
    if request.GET.get("template_id") != activity.account.one_time_template_id:
        return _error(request, _("订阅的模板与活动不符。"), activity=activity)
    confirmed = request.GET.get("action") == "confirm"
    if confirmed:
        known = str(request.session.get(_openid_key(activity), ""))
        claimed = request.GET.get("openid", "")
        if not known or not hmac.compare_digest(known.encode(), claimed.encode()):
            log.warning("one-time confirm return for activity %s names another patient than OAuth did", code)
            return _error(request, _("无法确认是你本人订阅，请从活动页重新订阅。"), 403, activity)
        scene = request.GET.get("scene", "")
        if not (scene.isascii() and scene.isdigit() and int(scene) == activity.pk % 10001):
            return _error(request, _("参数错误。"), activity=activity)
        services.record_confirm(activity=activity, openid=known, scene=int(scene))
    context = {"activity": activity, "confirmed": bool(confirmed), "now": timezone.now(), "promise": promise(activity)}
    return render(request, "subscriptions/public/confirmed.html", context)
