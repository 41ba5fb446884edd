"""The deliveries rollup: what became of each send's deliveries on each Beijing day, WeChat's delivery reports
included, kept by the minute refresh (only sends that changed are recounted) and equal to a rebuild."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from tests.campaigns.test_sending_on_wxsim import run_engines
from wxnotify.campaigns import services as campaigns
from wxnotify.campaigns.models import Delivery
from wxnotify.stats import selectors, services
from wxnotify.stats.models import DeliveryDaily
from wxnotify.subscriptions.models import Subscription

pytestmark = pytest.mark.django_db(transaction=True)


def rows() -> list[tuple]:
    fields = ("campaign_id", "day", "outcome", "errcode", "reason", "n")
    return sorted(DeliveryDaily.objects.values_list(*fields), key=repr)


def test_outcomes_and_reports_by_day_refreshed_only_when_a_send_changed(sending, settings, monkeypatch):
    settings.WECHAT_HTTP_TIMEOUT = 0.5
    # The refresh re-reads the last minutes each time (writes that committed late); without that margin a
    # second refresh shows which sends it takes: only those that changed since.
    monkeypatch.setattr(services, "LOOKBACK_TIME", timedelta(0))
    monkeypatch.setattr(services, "LOOKBACK_REPORTS", timedelta(0))
    account, sim, template, subscribers, campaign = sending
    openids = subscribers(12)
    # WeChat never answers the first three requests, then refuses two (whoever they are: sent concurrently).
    bizsend = "/cgi-bin/message/subscribe/bizsend"
    sim.post("/_sim/faults", {"path": bizsend, "timeout": True, "count": 3})
    sim.post("/_sim/faults", {"path": bizsend, "errcode": 43101, "errmsg": "user refuse to accept the msg", "count": 2})
    c = campaign()
    campaigns.start(campaign=c, user=None, workers=0)
    # Between the audience and the send, two people's credit went elsewhere: skipped, WeChat never asked.
    Subscription.objects.filter(openid__in=openids[:2]).update(credits=0)
    run_engines(c.pk, 1)
    today = timezone.localdate()
    sim.drain()  # WeChat's delivery reports
    assert services.refresh()["deliveries"] == 1
    assert rows() == sorted(
        [
            (c.pk, today, "sent", None, "", 5),
            (c.pk, today, "delivered", None, "", 5),
            (c.pk, today, "failed", 43101, "", 2),
            (c.pk, today, "skipped", None, "no subscription credit", 2),
            (c.pk, today, "unknown", None, "", 3),  # timed out: maybe at WeChat
        ],
        key=repr,
    )
    assert services.refresh()["deliveries"] == 0  # nothing moved: nothing recounted

    reasons = selectors.failure_reasons(c)
    assert [(code, n) for code, _reason, _action, n in reasons] == [(None, 3), (43101, 2), (None, 2)]
    assert [reason[1][:4] for reason in reasons] == ["请求可能", "对方没有", "对方没有"]
    assert "订阅次数" in reasons[2][1]  # the skip explained in the operator's words

    # The operator sends the three again: they reach WeChat now, and their reports arrive.
    assert campaigns.retry_unknown(campaign=c, user=None) == 3  # the queue runs inline in tests
    sim.drain()
    assert services.refresh()["deliveries"] == 1
    assert rows() == sorted(
        [
            (c.pk, today, "sent", None, "", 8),
            (c.pk, today, "delivered", None, "", 8),
            (c.pk, today, "failed", 43101, "", 2),
            (c.pk, today, "skipped", None, "no subscription credit", 2),
        ],
        key=repr,
    )

    # A second send, cancelled before anyone got it: counted on the day it stopped.
    subscribers(4)
    cancelled = campaign(name="取消的发送")
    campaigns.start(campaign=cancelled, user=None, workers=0)
    campaigns.cancel(campaign=cancelled, user=None)
    assert services.refresh()["deliveries"] == 1
    assert (cancelled.pk, today, "cancelled", None, "", 4) in rows()

    refreshed = rows()
    services.rebuild()
    assert rows() == refreshed


def test_each_outcome_on_its_beijing_day(sending):
    """New Year's Eve 23:30 and New Year's Day 00:10 in Beijing are one UTC day: two days here."""
    account, sim, template, subscribers, campaign = sending
    subscribers(3)
    c = campaign()
    campaigns.start(campaign=c, user=None, workers=0)
    run_engines(c.pk, 1)
    sim.drain()
    eve, new_year = datetime(2025, 12, 31, 15, 30, tzinfo=UTC), datetime(2025, 12, 31, 16, 10, tzinfo=UTC)
    first, second, third = Delivery.objects.filter(campaign=c).order_by("id")
    Delivery.objects.filter(pk__in=[first.pk, second.pk]).update(finished_at=eve, confirmed_at=eve)
    Delivery.objects.filter(pk=second.pk).update(confirmed_at=new_year)  # WeChat's report after midnight
    Delivery.objects.filter(pk=third.pk).update(finished_at=new_year, confirmed_at=new_year)
    services.rebuild()
    assert rows() == sorted(
        [
            (c.pk, date(2025, 12, 31), "sent", None, "", 2),
            (c.pk, date(2025, 12, 31), "delivered", None, "", 1),
            (c.pk, date(2026, 1, 1), "sent", None, "", 1),
            (c.pk, date(2026, 1, 1), "delivered", None, "", 2),
        ],
        key=repr,
    )
    months = selectors.month_range("2025-12", "2026-01")
    labels, outcomes = selectors.send_outcomes(account, months, "month")
    assert labels == ["2025-12", "2026-01"]
    assert outcomes["sent"] == [2, 1] and outcomes["delivered"] == [1, 2] and outcomes["failed"] == [0, 0]
