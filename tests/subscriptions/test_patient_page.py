"""The patient page with OAuth and the JS-SDK through the simulator, and hostile input."""

import json
import re
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings

from tests.subscriptions.conftest import make_activity
from wechat.signature import jssdk_signature
from wxnotify.subscriptions import services
from wxnotify.subscriptions.models import PageVisit, Subscription, SubscriptionEvent, Template

WECHAT_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 MicroMessenger/8.0.50(0x1800323a) NetType/WIFI Language/zh_CN"
pytestmark = pytest.mark.django_db(transaction=True)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def location_of(url: str, data: bytes | None = None) -> str:
    try:
        urllib.request.build_opener(NoRedirect).open(url, data=data)
    except urllib.error.HTTPError as redirect:
        if redirect.code in (301, 302):
            return redirect.headers["Location"]
        raise
    raise AssertionError(f"{url} did not redirect")


@pytest.fixture
def hospital(simulated_wechat):
    """Templates created in WeChat (the simulator) and synced into the product, and an activity using one."""
    account, sim = simulated_wechat
    sim.post(
        f"/_sim/accounts/{account.appid}/templates", {"tid": 5004, "kid_list": [1, 2, 3, 5], "scene_desc": "疫苗到货"}
    )
    sim.post(f"/_sim/accounts/{account.appid}/templates", {"tid": 5006, "kid_list": [1, 2, 3]})
    from asgiref.sync import async_to_sync

    from wxnotify.subscriptions.wechat_sync import sync_templates

    async_to_sync(sync_templates)(account)
    one_time = Template.objects.get(account=account, kind=Template.Kind.ONE_TIME)
    activity = make_activity(account, one_time)
    openid = sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": 1})["openids"][0]
    return account, sim, activity, one_time, openid


def begin(client, activity):
    response = client.get(f"/s/{activity.code}/", HTTP_USER_AGENT=WECHAT_UA)
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    query = parse_qs(target.query)
    assert response["Location"].startswith(settings.WECHAT_OAUTH_AUTHORIZE_URL)
    assert query["scope"] == ["snsapi_base"] and target.fragment == "wechat_redirect"
    return query


def wechat_code(sim, query, openid):
    """What WeChat does after the redirect: the patient is known, so it returns at once with a code."""
    params = {k: v[0] for k, v in query.items()} | {"sim_openid": openid}
    back = location_of(f"{sim.base_url}/connect/oauth2/authorize?{urlencode(params)}")
    return parse_qs(urlsplit(back).query)["code"][0]


def test_oauth_then_the_page_with_a_valid_jssdk_signature(client, hospital):
    account, sim, activity, one_time, openid = hospital
    query = begin(client, activity)
    code = wechat_code(sim, query, openid)
    back = client.get(
        f"/s/{activity.code}/oauth", {"code": code, "state": query["state"][0]}, HTTP_USER_AGENT=WECHAT_UA
    )
    assert back.status_code == 302 and back["Location"] == f"/s/{activity.code}/"
    page = client.get(f"/s/{activity.code}/", HTTP_USER_AGENT=WECHAT_UA)
    html = page.content.decode()
    assert page.status_code == 200 and "一键订阅提醒" in html and activity.title in html
    assert f'template="{one_time.template_id}"' in html
    config = json.loads(re.search(r'<script id="page-config" type="application/json">(.*?)</script>', html).group(1))[
        "jssdk"
    ]
    ticket = sim.world.accounts[account.appid].jsapi_ticket[0]
    url = settings.WXNOTIFY_PUBLIC_URL + f"/s/{activity.code}/"
    assert config["signature"] == jssdk_signature(
        jsapi_ticket=ticket, noncestr=config["nonceStr"], timestamp=config["timestamp"], url=url
    )
    assert PageVisit.objects.filter(activity=activity, openid=openid).count() == 1
    status = client.get(f"/s/{activity.code}/status").json()
    assert status["templates"] == [
        {
            "template_id": one_time.template_id,
            "title": "疫苗到货通知",
            "long_term": False,
            "credits": 0,
            "can_receive": False,
        }
    ]


def test_forged_state_is_refused_and_nothing_recorded(client, hospital):
    account, sim, activity, one_time, openid = hospital
    query = begin(client, activity)
    code = wechat_code(sim, query, openid)
    response = client.get(f"/s/{activity.code}/oauth", {"code": code, "state": "forged"}, HTTP_USER_AGENT=WECHAT_UA)
    assert response.status_code == 400 and "链接已失效" in response.content.decode()
    assert not PageVisit.objects.exists()
    assert client.get(f"/s/{activity.code}/status").status_code == 404  # no openid in this session


def test_a_replayed_state_and_a_reused_code_are_refused(client, hospital):
    account, sim, activity, one_time, openid = hospital
    query = begin(client, activity)
    code = wechat_code(sim, query, openid)
    state = query["state"][0]
    assert client.get(f"/s/{activity.code}/oauth", {"code": code, "state": state}).status_code == 302
    replay = client.get(f"/s/{activity.code}/oauth", {"code": code, "state": state})
    assert replay.status_code == 400  # the state was single-use
    other = client_for_new_browser()
    fresh = begin(other, activity)
    reused = other.get(f"/s/{activity.code}/oauth", {"code": code, "state": fresh["state"][0]})
    assert reused.status_code == 400 and "授权码只能使用一次" in reused.content.decode()
    assert sim.get("/_sim/stats")["calls"]["/sns/oauth2/access_token"] == {"0": 1, "40163": 1}


def client_for_new_browser():
    from django.test import Client

    return Client(headers={"user-agent": WECHAT_UA})


def test_unknown_or_archived_activity_is_a_clear_404(client, hospital):
    account, sim, activity, one_time, openid = hospital
    response = client.get("/s/nosuchcode/", HTTP_USER_AGENT=WECHAT_UA)
    assert response.status_code == 404 and "没有找到这个活动" in response.content.decode()
    activity.archived = True
    activity.save()
    assert client.get(f"/s/{activity.code}/", HTTP_USER_AGENT=WECHAT_UA).status_code == 404


def test_outside_wechat_the_page_says_how_to_open_it(client, hospital):
    account, sim, activity, one_time, openid = hospital
    response = client.get(f"/s/{activity.code}/", HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Chrome/150")
    html = response.content.decode()
    assert response.status_code == 200 and "请在<strong>微信</strong>中打开" in html and "<svg" in html
    assert not PageVisit.objects.exists()


def confirm_page_return(client, sim, activity, openid):
    """The older one-time subscription: our confirm link → (OAuth first) → WeChat's confirm page → "允许".

    Returns the path and query WeChat redirects the browser back to."""
    start = client.get(f"/s/{activity.code}/confirm")
    assert start.status_code == 302 and start["Location"].startswith(settings.WECHAT_OAUTH_AUTHORIZE_URL)
    query = parse_qs(urlsplit(start["Location"]).query)
    code = wechat_code(sim, query, openid)
    back = client.get(f"/s/{activity.code}/oauth", {"code": code, "state": query["state"][0]})
    assert back.status_code == 302 and back["Location"] == f"/s/{activity.code}/confirm"
    start = client.get(back["Location"])
    assert start.status_code == 302 and start["Location"].startswith(settings.WECHAT_SUBSCRIBEMSG_URL)
    params = {k: v[0] for k, v in parse_qs(urlsplit(start["Location"]).query).items()}
    page = (
        urllib.request.urlopen(f"{sim.base_url}/mp/subscribemsg?{urlencode(params | {'sim_openid': openid})}")
        .read()
        .decode()
    )
    form = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page)) | {"answer": "confirm"}
    back = urlsplit(location_of(f"{sim.base_url}/mp/subscribemsg", urlencode(form).encode()))
    return back.path, parse_qs(back.query)


def legacy_template_on(account, sim):
    account.one_time_template_id = sim.get(f"/_sim/accounts/{account.appid}")["one_time_template_id"]
    account.save()


def test_the_older_one_time_subscription_link(client, hospital):
    account, sim, activity, one_time, openid = hospital
    legacy_template_on(account, sim)
    path, query = confirm_page_return(client, sim, activity, openid)
    confirmed = client.get(path, {k: v[0] for k, v in query.items()})
    assert confirmed.status_code == 200 and "已订阅" in confirmed.content.decode()
    legacy = Subscription.objects.get(template__kind=Template.Kind.LEGACY_ONE_TIME, openid=openid)
    assert legacy.credits == 1
    assert services.record_confirm(activity=activity, openid=openid, scene=activity.pk % 10001) is False  # same scene
    forged = client.get(path, {k: v[0] for k, v in query.items()})  # the reserved state was used up
    assert forged.status_code == 400
    assert Subscription.objects.get(pk=legacy.pk).credits == 1


def test_the_confirm_return_cannot_claim_another_patient(client, hospital):
    """The probe's second hole: `?openid=<anyone>&…&reserved=<mine>` recorded an accept for anyone and bound
    this browser to that patient, whose status the page then showed."""
    account, sim, activity, one_time, me = hospital
    legacy_template_on(account, sim)
    victim = sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": 1})["openids"][0]
    path, query = confirm_page_return(client, sim, activity, me)
    claimed = {k: v[0] for k, v in query.items()} | {"openid": victim}
    response = client.get(path, claimed)
    assert response.status_code == 403 and "无法确认是你本人" in response.content.decode()
    assert not Subscription.objects.filter(openid=victim).exists()
    assert not SubscriptionEvent.objects.filter(openid=victim).exists()
    assert not Subscription.objects.filter(template__kind=Template.Kind.LEGACY_ONE_TIME).exists()
    # the session still belongs to the patient WeChat named, not to the victim
    assert client.session[f"wx_openid:{account.appid}"] == me


def test_the_confirm_return_cannot_claim_extra_scenes(client, hospital):
    """Each scene is one more send; the browser may not invent scenes the page never asked WeChat for."""
    account, sim, activity, one_time, me = hospital
    legacy_template_on(account, sim)
    path, query = confirm_page_return(client, sim, activity, me)
    response = client.get(path, {k: v[0] for k, v in query.items()} | {"scene": str((activity.pk + 1) % 10001)})
    assert response.status_code == 400
    assert not Subscription.objects.filter(template__kind=Template.Kind.LEGACY_ONE_TIME).exists()


def test_a_confirm_return_without_oauth_records_nothing(client, hospital):
    """A browser that never went through OAuth has no patient: whatever the return says, nothing is recorded."""
    account, sim, activity, one_time, openid = hospital
    legacy_template_on(account, sim)
    session = client.session
    session[f"wx_confirm_state:{activity.code}"] = "abc123"
    session.save()
    response = client.get(
        f"/s/{activity.code}/confirmed",
        {
            "openid": openid,
            "template_id": account.one_time_template_id,
            "action": "confirm",
            "scene": str(activity.pk % 10001),
            "reserved": "abc123",
        },
    )
    assert response.status_code == 403
    assert not Subscription.objects.exists() and not SubscriptionEvent.objects.exists()
    assert client.get(f"/s/{activity.code}/status").status_code == 404
