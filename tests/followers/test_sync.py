"""`sync_followers` pages through user/get (10,000 a page) against a fake WeChat and repairs our table."""

import asyncio

import pytest
from django.core.management import call_command

from tests.fakewechat import FakeWeChat
from wxnotify.followers.models import Follower, FollowerChange
from wxnotify.followers.services import record_follow, record_unfollow

pytestmark = pytest.mark.django_db(transaction=True)


def call_and_close(*args):
    from django.db import connections

    try:
        call_command(*args)
    finally:
        connections.close_all()


FOLLOWED = 1_750_000_000  # 2025-06-15 23:06:40 Beijing


def user_info(openid: str) -> dict:
    """What WeChat says of a follower: follow time, and a QR scene for those whose openid ends in 7."""
    number = sum(map(ord, openid))
    qr = openid.endswith("7")
    return {
        "subscribe": 1,
        "openid": openid,
        "subscribe_time": FOLLOWED + number,
        "subscribe_scene": "ADD_SCENE_QR_CODE" if qr else "ADD_SCENE_SEARCH",
        "qr_scene": 0,
        "qr_scene_str": "hpv_poster" if qr else "",
    }


def run_sync_against(openids: list[str], settings, account, *, fail_on_page: int | None = None):
    async def main():
        fake = FakeWeChat()
        fake.on("/cgi-bin/stable_token", lambda r, p: {"access_token": "TOKEN", "expires_in": 7200})
        pages = [openids[i : i + 10000] for i in range(0, len(openids), 10000)]

        def user_get(request, payload):
            assert request.query["access_token"] == "TOKEN"
            start = request.query.get("next_openid", "")
            index = 0 if not start else openids.index(start) + 1
            page_no = index // 10000
            if fail_on_page is not None and page_no == fail_on_page:
                return {"errcode": -1, "errmsg": "system error"}
            page = openids[index : index + 10000]
            return {
                "total": len(openids),
                "count": len(page),
                "data": {"openid": page} if page else {},
                "next_openid": page[-1] if page else "",
            }

        fake.on("/cgi-bin/user/get", user_get)

        def batchget(request, payload):
            asked = [u["openid"] for u in payload["user_list"]]
            assert 0 < len(asked) <= 100
            return {"user_info_list": [user_info(openid) for openid in asked]}

        fake.on("/cgi-bin/user/info/batchget", batchget)
        settings.WECHAT_API_BASE_URL = await fake.start()
        try:
            await asyncio.to_thread(call_and_close, "sync_followers", account.appid)
        finally:
            await fake.close()
        return fake, pages

    return asyncio.run(main())


def test_sync_adds_listed_marks_missing_and_refollows(make_account, settings):
    from django.utils import timezone

    account = make_account()
    then = timezone.now() - timezone.timedelta(days=3)
    record_follow(account=account, openid="o-gone", occurred_at=then)
    record_unfollow(account=account, openid="o-back", occurred_at=then)
    listed = [f"o-{i:05d}" for i in range(23000)] + ["o-back"]
    fake, _pages = run_sync_against(listed, settings, account)
    assert fake.calls["/cgi-bin/user/get"] == 4  # 3 pages with people, then WeChat's empty last page
    assert Follower.objects.filter(account=account, is_following=True).count() == 23001
    assert not Follower.objects.get(openid="o-gone").is_following
    assert Follower.objects.get(openid="o-back").is_following
    kinds = dict(FollowerChange.objects.filter(kind__startswith="sync").values_list("follower__openid", "kind"))
    assert kinds == {"o-gone": "sync_missing", "o-back": "sync_found"}
    # Everyone the sync found gets WeChat's follow time and scene (100 a call): a follow on its own day.
    assert fake.calls["/cgi-bin/user/info/batchget"] == 231
    found = Follower.objects.get(openid="o-00017")
    assert found.followed_at.timestamp() == user_info("o-00017")["subscribe_time"] and found.qr_scene == "hpv_poster"
    follows = FollowerChange.objects.filter(kind="follow", inbound=None)
    assert follows.exclude(follower__openid="o-gone").count() == 23001
    assert follows.filter(qr_scene="hpv_poster").count() == 2300
    assert follows.get(follower__openid="o-back").occurred_at.timestamp() == user_info("o-back")["subscribe_time"]
    assert follows.get(follower__openid="o-gone").occurred_at == then  # not listed: only its own follow


def test_a_failed_listing_marks_nobody_unfollowed(make_account, settings):
    from django.core.management.base import CommandError
    from django.utils import timezone

    account = make_account()
    record_follow(account=account, openid="o-still-here", occurred_at=timezone.now() - timezone.timedelta(days=1))
    with pytest.raises(CommandError):
        run_sync_against([f"o-{i:05d}" for i in range(15000)] + ["o-still-here"], settings, account, fail_on_page=1)
    assert Follower.objects.get(openid="o-still-here").is_following
    assert not FollowerChange.objects.filter(kind="sync_missing").exists()
