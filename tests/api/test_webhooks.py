"""Outgoing webhooks: a send's end becomes a signed event in the move's own transaction, posted to a real HTTP
receiver, retried with growing pauses until it answers 2xx, given up after the last try, sent again on
request; the console shows the secret once and the delivery log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.api.receiver import webhook_receiver
from tests.api.test_tokens_and_reads import person
from tests.subscriptions.conftest import make_template
from wxnotify.api import webhooks
from wxnotify.api.models import Webhook, WebhookDelivery
from wxnotify.campaigns import lifecycle
from wxnotify.campaigns.models import Action, Campaign
from wxnotify.campaigns.sending.rules import QUIET_REASON

pytestmark = pytest.mark.django_db


@pytest.fixture
def sending_campaign(make_account):
    account = make_account()
    template = make_template(account, template_id="TPL_VACCINE")
    campaign = Campaign.objects.create(
        account=account, template=template, name="HPV 疫苗到货", audience="template", state="sending"
    )
    return account, campaign


def test_a_finished_send_is_posted_once_signed_to_each_endpoint_that_asked(
    sending_campaign, django_capture_on_commit_callbacks
):
    account, campaign = sending_campaign
    with webhook_receiver() as receiver, webhook_receiver() as halts_only:
        hook, receiver.secret = webhooks.add(account=account, url=receiver.url, events=[], user=None)
        _h, halts_only.secret = webhooks.add(account=account, url=halts_only.url, events=["campaign.halted"], user=None)
        assert hook.events == list(Webhook.Event.values)  # none chosen: every event
        with django_capture_on_commit_callbacks(execute=True):
            lifecycle.transition(campaign.pk, Action.COMPLETED, user=None, finished_at=timezone.now())
        (got,) = receiver.wait_for(1)
        assert got.signature_ok and got.fresh and got.event == "campaign.finished"
        assert got.body["id"] == got.event_id and got.body["campaign"]["id"] == campaign.pk
        assert got.body["campaign"]["state"] == "completed" and got.body["account"] == account.appid
        assert halts_only.got == []  # it asked for halts only
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "delivered" and delivery.attempts == 1 and delivery.last_status == 200
    # The stored secret is not the text shown: it is encrypted at rest.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM api_webhook WHERE id = %s", [hook.pk])
        assert receiver.secret not in cursor.fetchone()[0]


def test_a_refusing_endpoint_is_retried_later_with_the_same_event_id_then_given_up(
    sending_campaign, settings, django_capture_on_commit_callbacks
):
    account, campaign = sending_campaign
    settings.WXNOTIFY_WEBHOOK_ATTEMPTS = 3
    with webhook_receiver() as receiver:
        _hook, receiver.secret = webhooks.add(account=account, url=receiver.url, events=[], user=None)
        receiver.answers = [500, 503, 502]
        with django_capture_on_commit_callbacks(execute=True):
            lifecycle.transition(campaign.pk, Action.AUTO_HALTED, user=None, detail={"reason": "x", "errcode": 40037})
        delivery = WebhookDelivery.objects.get()
        assert delivery.event == "campaign.halted" and delivery.attempts == 1 and delivery.last_status == 500
        pause = (delivery.next_attempt_at - timezone.now()).total_seconds()
        assert 25 < pause <= 30  # the first pause; then four times longer each time
        assert webhooks.attempt(delivery.pk) == "not due" and len(receiver.got) == 1
        assert webhooks.due() == []
        for expected_pause in (120, None):
            WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
            assert webhooks.due() == [delivery.pk]
            webhooks.attempt(delivery.pk)
            delivery.refresh_from_db()
            if expected_pause:
                assert 115 < (delivery.next_attempt_at - timezone.now()).total_seconds() <= 120
        assert delivery.state == "failed" and delivery.attempts == 3 and delivery.last_status == 502
        assert len({g.event_id for g in receiver.got}) == 1 and len(receiver.got) == 3
        # Fixed: sent again on request, the same event id.
        with django_capture_on_commit_callbacks(execute=True):
            webhooks.redeliver(delivery=delivery)
        delivery.refresh_from_db()
        assert delivery.state == "delivered" and receiver.got[-1].event_id == receiver.got[0].event_id


def test_an_unreachable_endpoint_is_an_error_not_a_crash(sending_campaign, django_capture_on_commit_callbacks):
    account, campaign = sending_campaign
    webhooks.add(account=account, url="http://127.0.0.1:9/nothing-listens", events=[], user=None)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.transition(campaign.pk, Action.COMPLETED, user=None)
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "pending" and delivery.last_status is None and delivery.last_error
    assert delivery.next_attempt_at > timezone.now() + timedelta(seconds=20)


def test_only_the_quota_pause_and_not_quiet_hours_or_previews_are_events(sending_campaign):
    account, campaign = sending_campaign
    webhooks.add(account=account, url="http://127.0.0.1:9/x", events=[], user=None)
    lifecycle.transition(campaign.pk, Action.AUTO_PAUSED, user=None, detail={"reason": QUIET_REASON, "errcode": None})
    assert not WebhookDelivery.objects.exists()
    lifecycle.transition(campaign.pk, Action.AUTO_RESUMED, user=None)
    lifecycle.transition(campaign.pk, Action.AUTO_PAUSED, user=None, detail={"reason": "quota", "errcode": 45009})
    assert list(WebhookDelivery.objects.values_list("event", flat=True)) == ["campaign.paused_by_quota"]
    preview = Campaign.objects.create(
        account=account, template=campaign.template, name="预览", audience="previewers", state="sending"
    )
    lifecycle.transition(preview.pk, Action.COMPLETED, user=None)
    assert WebhookDelivery.objects.count() == 1
    # A move that rolls back takes its event with it.
    with pytest.raises(RuntimeError), __import__("django.db").db.transaction.atomic():
        lifecycle.transition(campaign.pk, Action.AUTO_RESUMED, user=None)
        Campaign.objects.filter(pk=campaign.pk).update(state="sending")
        lifecycle.transition(campaign.pk, Action.COMPLETED, user=None)
        assert WebhookDelivery.objects.count() == 2
        raise RuntimeError
    assert WebhookDelivery.objects.count() == 1


def test_the_console_shows_the_secret_once_and_the_delivery_log(client, make_account):
    account = make_account()
    admin = person(account)
    client.force_login(admin)
    page = client.post(
        "/api-tokens/webhooks/", {"url": "https://his.example.org/hooks", "events": ["campaign.finished"]}
    )
    assert page.status_code == 200
    hook = Webhook.objects.get()
    assert hook.secret.startswith("whsec_") and hook.secret in page.content.decode()
    assert hook.events == ["campaign.finished"]
    again = client.get("/api-tokens/webhooks/").content.decode()
    assert hook.secret not in again and "https://his.example.org/hooks" in again
    bad = client.post("/api-tokens/webhooks/", {"url": "ftp://files.example.org/x", "events": ["campaign.finished"]})
    assert bad.status_code == 200 and Webhook.objects.count() == 1
    assert bad.context["form"].errors["url"] == ["输入一个有效的 URL。"]
    client.post("/api-tokens/webhooks/", {"disable": hook.pk})
    assert Webhook.objects.get().disabled_at is not None
    # An operator (not an administrator) does not see it.
    operator = person(account, "operator", "op")
    client.force_login(operator)
    assert client.get("/api-tokens/webhooks/").status_code == 403


def test_old_idempotency_keys_and_call_records_are_forgotten_by_the_nightly_task(make_account):
    from wxnotify.api import tasks, tokens
    from wxnotify.api.models import ApiCall, IdempotentRequest

    account = make_account()
    token, _text = tokens.issue(account=account, name="x", scopes=["read"], user=person(account))
    old = timezone.now() - timedelta(hours=25)
    for key, at in (("old", old), ("new", timezone.now())):
        row = IdempotentRequest.objects.create(token=token, key=key, fingerprint="f", status=201)
        IdempotentRequest.objects.filter(pk=row.pk).update(created_at=at)
    for days in (181, 1):
        call = ApiCall.objects.create(account=account, token=token, method="GET", path="/api/v1/me", status=200)
        ApiCall.objects.filter(pk=call.pk).update(at=timezone.now() - timedelta(days=days))
    tasks.forget_old_api_records.call_local()
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new"]
    assert ApiCall.objects.count() == 1
