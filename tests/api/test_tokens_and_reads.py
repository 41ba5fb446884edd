"""The API's foundation: tokens (hashed, scoped, revocable, acting as their creator), JSON errors in the
caller's language, the OpenAPI document, and the first reads — never across accounts."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.subscriptions.conftest import make_activity, make_template
from wxnotify.accounts.models import Membership
from wxnotify.api import tokens
from wxnotify.api.models import ApiToken
from wxnotify.subscriptions.models import Subscription

pytestmark = pytest.mark.django_db


def person(account, role="administrator", name="admin"):
    user = get_user_model().objects.create_user(f"{name}-{account.pk}", password="x-password-123")
    Membership.objects.create(user=user, account=account, role=role)
    return user


def bearer(text: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {text}"}


def test_a_token_is_shown_once_stored_hashed_and_acts_within_its_scopes(client, make_account):
    account = make_account()
    token, text = tokens.issue(account=account, name="预约系统", scopes=["read"], user=person(account))
    assert text.startswith(f"wxn_{token.prefix}_") and text.split("_", 2)[2] not in token.digest
    assert ApiToken.objects.filter(digest__contains=text.split("_", 2)[2]).count() == 0
    me = client.get("/api/v1/me", **bearer(text))
    assert me.status_code == 200 and me.json()["scopes"] == ["read"] and me.json()["role"] == "administrator"
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None
    for wrong in ("", "Bearer nonsense", f"Bearer wxn_{token.prefix}_wrongsecret", "Basic abc"):
        answer = client.get("/api/v1/me", HTTP_AUTHORIZATION=wrong)
        assert answer.status_code == 401 and answer.json()["code"] == "unauthorized"
    tokens.revoke(token=token, user=None)
    assert client.get("/api/v1/me", **bearer(text)).status_code == 401


def test_a_token_stops_working_when_its_person_leaves_the_account(client, make_account):
    account = make_account()
    user = person(account, "operator", "op")
    _token, text = tokens.issue(account=account, name="脚本", scopes=["read"], user=user)
    assert client.get("/api/v1/me", **bearer(text)).status_code == 200
    Membership.objects.filter(user=user).delete()
    assert client.get("/api/v1/me", **bearer(text)).status_code == 401


def test_templates_and_activities_of_the_tokens_account_only(client, make_account):
    account, other = make_account(), make_account(name="别家医院")
    vaccine = make_template(account, template_id="TPL_VACCINE")
    make_template(other, template_id="TPL_OTHER", title="别家的模板")
    make_activity(account, vaccine, title="九价到货")
    make_activity(other, title="别家的活动")
    Subscription.objects.create(
        account=account, template=vaccine, openid="o1", credits=1, accepts=1, first_accepted_at="2026-11-01T00:00:00Z"
    )
    _token, text = tokens.issue(account=account, name="预约系统", scopes=["read"], user=person(account))
    listed = client.get("/api/v1/templates", **bearer(text)).json()
    assert [t["template_id"] for t in listed] == ["TPL_VACCINE"]
    assert listed[0]["subscribers"] == {"historical": 1, "current": 1}
    assert listed[0]["keywords"][0] == {"key": "thing1", "name": "疫苗名称", "rule": "thing"}
    activities = client.get("/api/v1/activities", **bearer(text)).json()
    assert [a["title"] for a in activities] == ["九价到货"] and activities[0]["page_url"].endswith("/")


def test_a_token_without_the_scope_is_refused_in_the_callers_language(client, make_account):
    account = make_account()
    _token, text = tokens.issue(account=account, name="只发送", scopes=["send"], user=person(account))
    refused = client.get("/api/v1/templates", **bearer(text))
    assert refused.status_code == 403 and refused.json() == {
        "code": "scope",
        "message": "这个令牌没有「read」权限。",
        "field": None,
    }
    english = client.get("/api/v1/templates", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9", **bearer(text))
    assert english.json()["code"] == "scope" and english.json()["message"] == 'This token lacks the "read" scope.'
    assert english["Content-Language"] == "en"


def test_the_openapi_document_and_docs_are_served_without_a_login(client):
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200
    spec = document.json()
    assert spec["openapi"].startswith("3.") and "/api/v1/templates" in spec["paths"]
    assert "BearerAuth" in str(spec["components"]["securitySchemes"]) or spec["components"]["securitySchemes"]
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and b"cdn" not in docs.content.lower()
