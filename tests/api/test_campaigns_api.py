"""Notifications through the API: the console's checks in the same words, the one lifecycle (roles, scopes,
the two-person rule), idempotent creation, rate limits, every call recorded with its token, and nothing of
another account visible."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from tests.api.test_tokens_and_reads import bearer, person
from tests.subscriptions.conftest import make_activity, make_template
from wxnotify.api import tokens
from wxnotify.api.models import ApiCall, IdempotentRequest
from wxnotify.campaigns.models import Action, AuditEntry, Campaign, Delivery
from wxnotify.subscriptions.models import Subscription, SubscriptionEvent, Template

pytestmark = pytest.mark.django_db

GOOD = {"thing1": "九价HPV疫苗", "date2": "2026年12月20日"}


@pytest.fixture
def hospital(make_account):
    account = make_account(require_second_approver=True)
    template = make_template(account, template_id="TPL_VACCINE")
    activity = make_activity(account, template)
    operator, approver = person(account, "operator", "op"), person(account, "approver", "ap")
    _t, maker = tokens.issue(account=account, name="HIS 系统", scopes=["read", "write", "send"], user=operator)
    _t, checker = tokens.issue(account=account, name="审核脚本", scopes=["read", "send"], user=approver)
    _t, reader = tokens.issue(account=account, name="报表", scopes=["read"], user=approver)
    return account, template, activity, {"maker": maker, "checker": checker, "reader": reader}


def post(client, path, text, payload=None, **headers):
    return client.post(
        f"/api/v1{path}", json.dumps(payload or {}), content_type="application/json", **bearer(text), **headers
    )


def new(activity_, **fields):
    return (
        {"name": "HPV 疫苗到货", "template": "TPL_VACCINE", "audience": "activity", "activity": activity_.pk}
        | {"fields": GOOD}
        | fields
    )


def test_a_notification_is_checked_with_the_consoles_words_in_the_callers_language(client, hospital):
    _account, _template, activity, keys = hospital
    too_long = post(client, "/campaigns", keys["maker"], new(activity, fields={"thing1": "一" * 21, "date2": "明天"}))
    assert too_long.status_code == 422
    body = too_long.json()
    assert body["code"] == "invalid" and body["field"] == "fields.thing1"
    assert "20" in body["message"]  # WeChat's rule for a thing field, as the compose page says it
    assert {e["field"] for e in body["errors"]} == {"fields.thing1", "fields.date2"}
    english = post(
        client,
        "/campaigns",
        keys["maker"],
        new(activity, fields={"thing1": "x", "date2": "明天"}),
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert english.status_code == 422 and english.json()["field"] == "fields.date2"
    assert "does not match WeChat's format" in english.json()["message"]  # the keyword's name stays as WeChat has it
    unknown = post(client, "/campaigns", keys["maker"], new(activity, template="NO_SUCH"))
    assert unknown.status_code == 422 and unknown.json()["field"] == "template"
    no_activity = post(client, "/campaigns", keys["maker"], new(activity, activity=None))
    assert no_activity.json()["field"] == "activity" and no_activity.json()["message"] == "请选择活动。"
    assert not Campaign.objects.exists()


def test_create_submit_approve_by_another_token_and_the_refusals_on_the_way(client, hospital):
    account, _template, activity, keys = hospital
    created = post(client, "/campaigns", keys["maker"], new(activity))
    assert created.status_code == 201, created.content
    campaign = created.json()
    assert campaign["state"] == "draft" and campaign["state_label"] == "草稿" and campaign["fields"] == GOOD
    assert campaign["actions"] == ["cancel", "preview", "submit", "update"]
    cid = campaign["id"]
    # A read token cannot send, and says why; nor can the maker approve before it is submitted (state).
    refused = post(client, f"/campaigns/{cid}/approve", keys["reader"])
    assert refused.status_code == 403 and refused.json()["code"] == "scope"
    submitted = post(client, f"/campaigns/{cid}/submit", keys["maker"])
    assert submitted.status_code == 200 and submitted.json()["state"] == "awaiting_approval"
    again = post(client, f"/campaigns/{cid}/submit", keys["maker"])
    assert again.status_code == 409 and again.json() == {
        "code": "state",
        "message": "只有草稿可以提交审核。",
        "field": None,
    }
    # The operator's token cannot approve (role), the approver's can (two-person rule: not the author).
    own = post(client, f"/campaigns/{cid}/approve", keys["maker"])
    assert own.status_code == 403 and own.json()["code"] == "forbidden"
    approved = post(client, f"/campaigns/{cid}/approve", keys["checker"])
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    assert approved.json()["actions"] == []  # an approver starts nothing; the operator's token may now
    assert "start" in client.get(f"/api/v1/campaigns/{cid}", **bearer(keys["maker"])).json()["actions"]
    # Each step is in the campaign's audit log as done through its token, by its person.
    entries = AuditEntry.objects.filter(campaign_id=cid).order_by("id")
    assert [e.action for e in entries] == [Action.EDIT, Action.SUBMIT, Action.APPROVE]
    assert entries[2].user.username.startswith("ap-") and entries[2].detail["via"]["name"] == "审核脚本"
    assert "通过 API 令牌「审核脚本」" in entries[2].summary
    # Every call is recorded with its token and its answer.
    calls = ApiCall.objects.filter(account=account).order_by("id")
    assert [(c.method, c.status) for c in calls] == [
        ("POST", 201),
        ("POST", 403),
        ("POST", 200),
        ("POST", 409),
        ("POST", 403),
        ("POST", 200),
        ("GET", 200),
    ]
    approve = calls.filter(method="POST").last()
    assert approve.token.name == "审核脚本" and approve.path == f"/api/v1/campaigns/{cid}/approve"


def test_a_change_touches_only_the_fields_given_and_the_console_rules_hold(client, hospital):
    _account, _template, activity, keys = hospital
    cid = post(client, "/campaigns", keys["maker"], new(activity)).json()["id"]
    changed = client.patch(
        f"/api/v1/campaigns/{cid}",
        json.dumps({"fields": {"thing1": "四价HPV疫苗"}, "canary_count": 10}),
        content_type="application/json",
        **bearer(keys["maker"]),
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["fields"] == {"thing1": "四价HPV疫苗", "date2": GOOD["date2"]}
    assert changed.json()["canary_count"] == 10 and changed.json()["name"] == "HPV 疫苗到货"
    both = client.patch(
        f"/api/v1/campaigns/{cid}",
        json.dumps({"canary_percent": 5}),
        content_type="application/json",
        **bearer(keys["maker"]),
    )
    assert both.status_code == 422 and both.json() == {
        "code": "invalid",
        "message": "人数和百分比只填一个。",
        "field": "canary_percent",
        "errors": [{"field": "canary_percent", "message": "人数和百分比只填一个。"}],
    }

    kept = client.patch(
        f"/api/v1/campaigns/{cid}",
        json.dumps({"name": None, "canary_count": None}),
        content_type="application/json",
        **bearer(keys["maker"]),
    )
    assert kept.json()["name"] == "HPV 疫苗到货" and kept.json()["canary_count"] is None  # null: kept / cleared


def test_idempotency_key_gives_the_first_answer_back_and_never_creates_twice(client, hospital):
    _account, _template, activity, keys = hospital
    first = post(client, "/campaigns", keys["maker"], new(activity), HTTP_IDEMPOTENCY_KEY="his-order-1")
    retry = post(client, "/campaigns", keys["maker"], new(activity), HTTP_IDEMPOTENCY_KEY="his-order-1")
    assert first.status_code == retry.status_code == 201
    assert retry.content == first.content and retry["Idempotent-Replayed"] == "true"
    assert Campaign.objects.count() == 1
    other = post(client, "/campaigns", keys["maker"], new(activity, name="别的"), HTTP_IDEMPOTENCY_KEY="his-order-1")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    # A refused request keeps its answer too (it would be refused again); a new key is a new request.
    assert (
        post(client, "/campaigns", keys["maker"], new(activity), HTTP_IDEMPOTENCY_KEY="his-order-2").status_code == 201
    )
    assert Campaign.objects.count() == 2 and IdempotentRequest.objects.count() == 2


def test_rate_limit_per_token_answers_429_with_retry_after(client, hospital, settings):
    _account, _template, _activity, keys = hospital
    settings.WXNOTIFY_API_RATE = (3, 60)
    answers = [client.get("/api/v1/me", **bearer(keys["reader"])) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[3].json()["code"] == "rate_limited" and 1 <= int(answers[3]["Retry-After"]) <= 61
    assert client.get("/api/v1/me", **bearer(keys["maker"])).status_code == 200  # another token has its own


def test_deliveries_are_filtered_and_keyset_paged_with_reasons(client, hospital):
    account, template, activity, keys = hospital
    campaign = Campaign.objects.create(
        account=account, template=template, name="x", audience="activity", activity=activity, data=GOOD
    )
    Delivery.objects.bulk_create(
        [Delivery(campaign=campaign, openid=f"o{i}", state="sent", msgid=i) for i in range(5)]
        + [Delivery(campaign=campaign, openid="o-refused", state="failed", errcode=43101, errmsg="user refuse")]
    )
    url = f"/api/v1/campaigns/{campaign.pk}/deliveries"
    page = client.get(url, {"limit": 4}, **bearer(keys["reader"])).json()
    assert [d["openid"] for d in page["items"]] == ["o-refused", "o4", "o3", "o2"] and page["next_before"]
    rest = client.get(url, {"limit": 4, "before": page["next_before"]}, **bearer(keys["reader"])).json()
    assert [d["openid"] for d in rest["items"]] == ["o1", "o0"] and rest["next_before"] is None
    failed = client.get(url, {"errcode": 43101}, **bearer(keys["reader"])).json()["items"]
    assert len(failed) == 1 and failed[0]["reason"] and failed[0]["action"]


def test_a_token_of_another_account_finds_nothing_of_this_one(client, hospital, make_account):
    account, template, activity, keys = hospital
    campaign = Campaign.objects.create(
        account=account, template=template, name="x", audience="activity", activity=activity, data=GOOD
    )
    other = make_account(name="别家医院")
    _t, theirs = tokens.issue(account=other, name="别家", scopes=["read", "write", "send"], user=person(other))
    c, a = campaign.pk, activity.pk
    for path in [
        f"/campaigns/{c}",
        f"/campaigns/{c}/deliveries",
        f"/campaigns/{c}/statistics",
        f"/activities/{a}",
        f"/activities/{a}/qr.png",
        f"/activities/{a}/qr.svg",
        f"/activities/{a}/poster",
        f"/activities/{a}/subscribers",
        "/templates/TPL_VACCINE/subscribers",
    ]:
        answer = client.get(f"/api/v1{path}", **bearer(theirs))
        assert answer.status_code == 404 and answer.json()["code"] == "not_found", path
    for verb in ["submit", "approve", "preview", "schedule", "start", "pause", "resume", "cancel", "retry-unknown"]:
        assert post(client, f"/campaigns/{c}/{verb}", theirs).status_code == 404, verb
    patched = client.patch(f"/api/v1/campaigns/{c}", "{}", content_type="application/json", **bearer(theirs))
    assert patched.status_code == 404
    assert (
        client.patch(f"/api/v1/activities/{a}", "{}", content_type="application/json", **bearer(theirs)).status_code
        == 404
    )
    mine = client.get("/api/v1/campaigns", **bearer(theirs)).json()
    assert mine == {"items": [], "next_before": None}
    # Nor can it point a notification of its own at this account's activity or template.
    stolen = post(client, "/campaigns", theirs, new(activity))
    assert stolen.status_code == 422 and stolen.json()["field"] == "template"
    assert Campaign.objects.filter(account=other).count() == 0


def test_activities_are_made_and_changed_with_the_consoles_checks_and_give_their_codes(client, hospital, settings):
    account, template, _activity, keys = hospital
    payload = {
        "title": "九价HPV疫苗第二批",
        "kind": "vaccine",
        "starts_at": "2026-12-20T09:00:00+08:00",
        "place": "预防接种门诊",
        "templates": ["TPL_VACCINE"],
    }
    made = post(client, "/activities", keys["maker"], payload)
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["templates"] == ["TPL_VACCINE"] and body["page_url"].endswith(f"/{body['code']}/")
    assert client.get(body["page_url"].removeprefix(settings.WXNOTIFY_PUBLIC_URL)).status_code == 200
    assert body["qr_png"].endswith(f"/api/v1/activities/{body['id']}/qr.png")
    assert body["subscribers"] == {"TPL_VACCINE": {"historical": 0, "current": 0}}
    wrong = post(client, "/activities", keys["maker"], payload | {"ends_at": "2026-12-19T09:00:00+08:00"})
    assert wrong.status_code == 422 and wrong.json() == {
        "code": "invalid",
        "message": "结束时间不能早于开始时间。",
        "field": "ends_at",
        "errors": [{"field": "ends_at", "message": "结束时间不能早于开始时间。"}],
    }
    missing = post(client, "/activities", keys["maker"], payload | {"templates": ["TPL_NONE"]})
    assert missing.status_code == 422 and missing.json()["field"] == "templates"
    aid = body["id"]
    moved = client.patch(
        f"/api/v1/activities/{aid}",
        json.dumps({"place": "门诊三楼"}),
        content_type="application/json",
        **bearer(keys["maker"]),
    )
    assert (
        moved.status_code == 200 and moved.json()["place"] == "门诊三楼" and moved.json()["title"] == payload["title"]
    )
    png = client.get(f"/api/v1/activities/{aid}/qr.png", **bearer(keys["reader"]))
    assert png.status_code == 200 and png["Content-Type"] == "image/png" and png.content.startswith(b"\x89PNG")
    svg = client.get(f"/api/v1/activities/{aid}/qr.svg", **bearer(keys["reader"]))
    assert svg["Content-Type"] == "image/svg+xml" and b"<svg" in svg.content
    poster = client.get(f"/api/v1/activities/{aid}/poster", **bearer(keys["reader"]))
    assert poster.status_code == 200 and "九价HPV疫苗第二批" in poster.content.decode()
    # A read token cannot make one.
    assert post(client, "/activities", keys["reader"], payload).json()["code"] == "scope"
    # Who subscribed from it: the accepts credited to this activity, not the template's other subscribers.
    for openid, from_here in (("o-here", True), ("o-elsewhere", False)):
        Subscription.objects.create(account=account, template=template, openid=openid, credits=1, accepts=1)
        SubscriptionEvent.objects.create(
            account=account,
            template=template,
            openid=openid,
            kind="accept",
            activity_id=aid if from_here else None,
            source="h5",
            occurred_at=timezone.now(),
        )
    subscribers = client.get(f"/api/v1/activities/{aid}/subscribers", **bearer(keys["reader"])).json()
    assert [s["openid"] for s in subscribers["items"]] == ["o-here"] and subscribers["items"][0]["can_receive"]
    everyone = client.get("/api/v1/templates/TPL_VACCINE/subscribers", **bearer(keys["reader"])).json()
    assert {s["openid"] for s in everyone["items"]} == {"o-here", "o-elsewhere"}


def test_a_nul_in_a_body_is_refused_before_it_reaches_a_query(client, hospital):
    _account, _template, activity, keys = hospital
    for payload in (new(activity, name="a\u0000b"), {"title": "x", "templates": ["\u0000"]}):
        answer = post(client, "/campaigns" if "name" in payload else "/activities", keys["maker"], payload)
        assert answer.status_code == 422 and answer.json()["code"] == "invalid" and "NUL" in answer.json()["message"]
    assert not Campaign.objects.exists()


def test_times_are_given_in_beijing_time_with_their_offset(client, hospital):
    _account, _template, activity, keys = hospital
    made = post(client, "/campaigns", keys["maker"], new(activity, scheduled_at="2027-01-10T01:00:00Z"))
    assert made.json()["scheduled_at"] == "2027-01-10T09:00:00+08:00"
    assert made.json()["created_at"].endswith("+08:00")


def test_a_template_that_is_not_a_choice_is_refused_not_a_crash(client, hospital):
    """Deleted in WeChat, or an older one-time template the account no longer uses (its message has other
    fields than the form built): "not a valid choice", never a 500 from checking fields the form lacks."""
    account, template, activity, keys = hospital
    template.status = "deleted"
    template.save()
    answer = post(client, "/campaigns", keys["maker"], new(activity))
    assert answer.status_code == 422 and answer.json()["field"] == "template"
    make_template(account, template_id="TPL_OLD", kind=Template.Kind.LEGACY_ONE_TIME)
    legacy = post(client, "/campaigns", keys["maker"], new(activity, template="TPL_OLD"))
    assert legacy.status_code == 422 and legacy.json()["field"] == "template"
    assert not Campaign.objects.exists()
