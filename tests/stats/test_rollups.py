"""Daily rollups against hand-computed figures, on events pushed through the real callback endpoint.

Days are Beijing days: 2025-12-31 23:30 and 2026-01-01 00:10 (Asia/Shanghai) are 15:30 and 16:10 UTC of the
same UTC day but fall on two days, two months and two years here."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.engagement.test_custom_menu import hospital_menu
from tests.subscriptions.conftest import make_activity, make_template
from wechat.messages import FollowEvent, MenuClickEvent, SubscribeChoice, SubscribePopupEvent, UnfollowEvent
from wechat.xmlcodec import render_message
from wxnotify.engagement import services as engagement
from wxnotify.engagement.models import MenuVersion
from wxnotify.stats import services
from wxnotify.stats.models import FollowDaily, MenuDaily, MenuMonthly, SubscriptionDaily

BEIJING = ZoneInfo("Asia/Shanghai")


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=BEIJING).timestamp())


def snapshot() -> dict[str, list[tuple]]:
    def rows(model, *fields):
        return sorted((tuple(r) for r in model.objects.values_list("account_id", "day", *fields)), key=repr)

    return {
        "subscriptions": rows(SubscriptionDaily, "template_id", "activity_id", "accepts", "rejections", "first_time"),
        "menu": rows(MenuDaily, "item_id", "version_id", "taps", "people"),
        "menu_month": sorted(
            (tuple(r) for r in MenuMonthly.objects.values_list("account_id", "month", "item_id", "taps", "people")),
            key=repr,
        ),
        "follows": rows(FollowDaily, "scene", "follows", "unfollows"),
    }


@pytest.fixture
def hospital(simulated_wechat, push):
    account, sim = simulated_wechat
    v1 = engagement.publish_menu(account=account, rows=hospital_menu(), user=None)
    MenuVersion.objects.filter(pk=v1.pk).update(live_from=datetime(2024, 1, 1, tzinfo=BEIJING))
    v1.refresh_from_db()

    def send(message) -> None:
        assert push(account, render_message(message)).status_code == 200

    def base(openid: str, when: str) -> dict:
        return {
            "account_original_id": account.original_id,
            "openid": openid,
            "create_time": at(when),
            "msg_type": "event",
        }

    return account, v1, send, base


def test_each_figure_on_its_beijing_day_and_a_rebuild_gives_the_same_rows(hospital):
    account, v1, send, base = hospital
    vaccine = make_template(account, template_id="TPL_VACCINE")
    lecture = make_template(account, template_id="TPL_LECTURE", title="直播开始提醒")
    activity = make_activity(account, vaccine, lecture)
    book = v1.items.get(name="预约挂号").item_id

    # Menu: A on New Year's Eve; A and B after midnight; WeChat retries B's tap (counted once).
    send(MenuClickEvent(**base("oA", "2025-12-31T23:30:00"), key="MENU_BOOK"))
    send(MenuClickEvent(**base("oA", "2026-01-01T00:10:00"), key="MENU_BOOK"))
    b_tap = MenuClickEvent(**base("oB", "2026-01-01T00:20:00"), key="MENU_BOOK")
    send(b_tap)
    send(b_tap)
    send(MenuClickEvent(**base("oA", "2026-01-01T09:00:00"), key="MENU_HOURS"))
    # Follows: one from a QR poster, one unfollow, same day.
    send(FollowEvent(**base("oC", "2026-01-01T00:05:00"), scene="hpv_poster"))
    send(UnfollowEvent(**base("oD", "2026-01-01T12:00:00")))
    # Subscriptions: A accepts both templates in an article (scene 2 → the one open activity); again the
    # next day (not a first time); B rejects the vaccine template.
    send(
        SubscribePopupEvent(
            **base("oA", "2026-01-01T08:00:00"),
            choices=(SubscribeChoice("TPL_VACCINE", "accept", 2), SubscribeChoice("TPL_LECTURE", "accept", 2)),
        )
    )
    send(
        SubscribePopupEvent(**base("oA", "2026-01-02T08:00:00"), choices=(SubscribeChoice("TPL_VACCINE", "accept", 2),))
    )
    send(
        SubscribePopupEvent(**base("oB", "2026-01-02T09:00:00"), choices=(SubscribeChoice("TPL_VACCINE", "reject", 2),))
    )

    assert services.refresh() == {
        "subscriptions": 2,
        "menu": 2,
        "menu_month": 2,
        "follows": 1,
        "clicks": 0,
        "deliveries": 0,
    }
    a, hours = account.pk, v1.items.get(name="门诊时间").item_id
    expected = {
        "subscriptions": sorted(
            [
                (a, date(2026, 1, 1), vaccine.pk, activity.pk, 1, 0, 1),
                (a, date(2026, 1, 1), lecture.pk, activity.pk, 1, 0, 1),
                (a, date(2026, 1, 2), vaccine.pk, activity.pk, 1, 0, 0),
                (a, date(2026, 1, 2), vaccine.pk, None, 0, 1, 0),  # a rejection is not attributed
            ],
            key=repr,
        ),
        "menu": sorted(
            [
                (a, date(2025, 12, 31), book, v1.pk, 1, 1),
                (a, date(2026, 1, 1), book, v1.pk, 2, 2),
                (a, date(2026, 1, 1), hours, v1.pk, 1, 1),
            ],
            key=repr,
        ),
        "menu_month": sorted(
            [
                (a, date(2025, 12, 1), book, 1, 1),
                (a, date(2026, 1, 1), book, 2, 2),  # A tapped in both months: counted in each
                (a, date(2026, 1, 1), hours, 1, 1),
            ],
            key=repr,
        ),
        "follows": sorted([(a, date(2026, 1, 1), "hpv_poster", 1, 0), (a, date(2026, 1, 1), "", 0, 1)], key=repr),
    }
    assert snapshot() == expected

    # A tap arriving late for New Year's Eve lands on its own day at the next refresh.
    send(MenuClickEvent(**base("oE", "2025-12-31T20:00:00"), key="MENU_BOOK"))
    assert services.refresh()["menu"] >= 1
    expected["menu"][0] = (a, date(2025, 12, 31), book, v1.pk, 2, 2)
    expected["menu_month"][0] = (a, date(2025, 12, 1), book, 2, 2)
    assert snapshot() == expected
    assert services.refresh() == {
        "subscriptions": 0,
        "menu": 0,
        "menu_month": 0,
        "follows": 0,
        "clicks": 0,
        "deliveries": 0,
    }  # nothing new: no work
    assert snapshot() == expected

    refreshed = snapshot()
    services.rebuild()
    assert snapshot() == refreshed


def test_the_rebuild_command_reports_and_reproduces_the_refreshed_rows(hospital):
    from io import StringIO

    from django.core.management import call_command

    account, v1, send, base = hospital
    for i in range(5):
        send(MenuClickEvent(**base(f"o{i % 3}", f"2026-0{i + 1}-15T12:00:00"), key="MENU_BOOK"))
    services.refresh()
    refreshed = snapshot()
    MenuDaily.objects.filter(day=date(2026, 3, 15)).update(taps=99)  # damaged derived data
    out = StringIO()
    call_command("rebuild_stats", stdout=out)
    assert "menu 5 days" in out.getvalue()
    assert snapshot() == refreshed and len(refreshed["menu"]) == 5
