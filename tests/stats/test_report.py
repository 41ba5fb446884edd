"""The monthly report: every section for one month, printable and as a workbook with a sheet per section."""

from __future__ import annotations

import io

import openpyxl

from tests.campaigns.test_console_pages import member
from tests.stats.test_menu_page import rows_of
from tests.stats.test_rollups import hospital  # noqa: F401 - the fixture
from tests.subscriptions.conftest import make_activity, make_template
from wechat.messages import FollowEvent, MenuClickEvent, SubscribeChoice, SubscribePopupEvent, UnfollowEvent
from wxnotify.stats import services


def test_the_monthly_report_and_its_workbook(client, hospital):  # noqa: F811
    account, v1, send, base = hospital
    vaccine = make_template(account, template_id="TPL_VACCINE")
    make_activity(account, vaccine, title="九价到货")
    for i, day in enumerate(["2025-10-31T23:00:00", "2025-11-01T09:00:00", "2025-11-15T09:00:00"]):
        send(SubscribePopupEvent(**base(f"o{i}", day), choices=(SubscribeChoice("TPL_VACCINE", "accept", 2),)))
    send(MenuClickEvent(**base("oA", "2024-11-03T10:00:00"), key="MENU_BOOK"))  # a year earlier
    send(MenuClickEvent(**base("oA", "2025-11-03T10:00:00"), key="MENU_BOOK"))
    send(MenuClickEvent(**base("oB", "2025-11-04T10:00:00"), key="MENU_BOOK"))
    send(FollowEvent(**base("oF", "2025-11-02T10:00:00"), scene="hpv_poster"))
    send(UnfollowEvent(**base("oF", "2025-11-20T10:00:00")))
    services.refresh()
    member(client, account, "viewer")
    page = client.get("/stats/report/?month=2025-11").content.decode()
    assert "2025年11月 月度报告" in page and "data-print" in page
    assert rows_of(page, "report-1") == [["疫苗到货通知", "", "2", "2"]]  # Oct 31 23:00 Beijing is October's
    assert rows_of(page, "report-2") == [["疫苗到货通知", "九价到货", "2", "2"]]
    assert rows_of(page, "report-3") == [["本月没有数据。"]]  # no send this month
    assert rows_of(page, "report-5") == [["预约挂号", "", "2", "100.0", "2", "2", "—", "100.0"]]
    followers = rows_of(page, "report-6")
    assert len(followers) == 30 and followers[1][:3] == ["2025-11-02", "1", "0"] and followers[19][2] == "1"
    assert rows_of(page, "report-7") == [["hpv_poster", "1", "100.0"]]
    client.cookies["django_language"] = "en"
    assert "November 2025" in client.get("/stats/report/?month=2025-11").content.decode()
    client.cookies["django_language"] = "zh-hans"

    response = client.get("/stats/report/?month=2025-11&format=xlsx")
    assert response["Content-Disposition"].endswith('filename="report-2025-11.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert book.sheetnames == [
        "订阅统计",
        "订阅来源活动",
        "通知效果",
        "没有收到的原因",
        "菜单统计",
        "粉丝增长",
        "关注来源场景",
    ]
    assert [c.value for c in book["菜单统计"][2]] == ["预约挂号", "", 2, 100.0, 2, 2, "—", 100.0]
    assert book["粉丝增长"].max_row == 31
    assert client.get("/stats/report/?month=garbage").status_code == 200
