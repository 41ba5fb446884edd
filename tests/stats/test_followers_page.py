"""Follower growth: follows, unfollows, net, the total at each period's end, and QR scenes."""

from __future__ import annotations

from tests.campaigns.test_console_pages import member
from tests.stats.test_menu_page import rows_of
from tests.stats.test_rollups import hospital  # noqa: F401 - the fixture
from wechat.messages import FollowEvent, UnfollowEvent
from wxnotify.stats import services


def test_follower_growth_by_month_with_totals_and_scenes(client, hospital):  # noqa: F811
    account, v1, send, base = hospital
    send(FollowEvent(**base("oA", "2025-11-20T10:00:00")))  # before the range
    send(FollowEvent(**base("oB", "2025-12-05T10:00:00"), scene="hpv_poster"))
    send(FollowEvent(**base("oC", "2025-12-31T23:59:00"), scene="hpv_poster"))  # still December in Beijing
    send(UnfollowEvent(**base("oA", "2025-12-20T10:00:00")))
    send(FollowEvent(**base("oD", "2026-01-03T10:00:00")))
    send(FollowEvent(**base("oE", "2026-02-10T10:00:00")))  # after the range
    services.refresh()
    member(client, account, "viewer")
    page = client.get("/stats/followers/?from=2025-12&to=2026-01&by=month").content.decode()
    # month, follows, unfollows, net, followers at the month's end (oB oC; oB oC oD)
    assert rows_of(page, "followers") == [["2025-12", "2", "1", "1", "2"], ["2026-01", "1", "0", "1", "3"]]
    assert rows_of(page, "scenes") == [["hpv_poster", "2", "66.7%"], ["（非扫码关注）", "1", "33.3%"]]
    by_day = rows_of(client.get("/stats/followers/?from=2025-12&to=2025-12&by=day").content.decode(), "followers")
    assert len(by_day) == 31 and by_day[4] == ["2025-12-05", "1", "0", "1", "2"]  # oA and oB
    assert by_day[19] == ["2025-12-20", "0", "1", "-1", "1"] and by_day[30] == ["2025-12-31", "1", "0", "1", "2"]
    assert "data-empty" in client.get("/stats/followers/?from=2024-01&to=2024-02").content.decode()
