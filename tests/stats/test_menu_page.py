"""The custom menu's statistics: taps per item across a rename, share, month-on-month, year-on-year, the trend."""

from __future__ import annotations

import re
from datetime import datetime

from tests.campaigns.test_console_pages import member
from tests.stats.test_rollups import BEIJING, hospital  # noqa: F401 - the fixture
from wechat.messages import MenuClickEvent
from wxnotify.engagement import services as engagement
from wxnotify.engagement.models import MenuVersion
from wxnotify.stats import services


def rows_of(html: str, table: str) -> list[list[str]]:
    body = html.split(f'data-table="{table}"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in body.split("</tr>")
        if "<td" in row
    ]


def test_menu_use_across_a_rename_with_share_month_on_month_and_year_on_year(client, hospital):  # noqa: F811
    account, v1, send, base = hospital

    def tap(openid, when, key="MENU_BOOK"):
        send(MenuClickEvent(**base(openid, when), key=key))

    tap("oA", "2024-12-03T10:00:00")  # a year earlier: 2 taps
    tap("oB", "2024-12-31T23:59:00")
    tap("oA", "2025-11-30T23:59:59")  # the month before: 1 tap
    tap("oA", "2025-12-05T10:00:00")  # under v1's name
    rows = engagement.version_rows(v1)  # the editor's rows: each item keeps its identity (uid)
    book = next(r for r in rows if r["name"] == "预约挂号")
    book["name"], book["position"] = "挂号", 5  # renamed and moved
    v2 = engagement.publish_menu(account=account, rows=rows, user=None)
    MenuVersion.objects.filter(pk=v2.pk).update(live_from=datetime(2025, 12, 10, tzinfo=BEIJING))
    tap("oA", "2025-12-20T10:00:00")
    late = MenuClickEvent(**base("oC", "2025-12-21T10:00:00"), key="MENU_BOOK")
    send(late)
    send(late)  # WeChat's retry: counted once
    tap("oB", "2025-12-22T10:00:00", key="MENU_HOURS")
    tap("oB", "2026-01-01T00:00:01")  # January in Beijing: outside the range
    services.refresh()

    member(client, account, "viewer")
    page = client.get("/stats/menu/?from=2025-12&to=2025-12&by=day").content.decode()
    assert rows_of(page, "menu") == [
        # item (former names), taps, share, people (Dec: oA, oC), December's taps, against November (1 → 3)
        # and December 2024 (2 → 3)
        ["挂号 曾用名：预约挂号", "3", "75.0%", "2", "3", "+200.0%", "+50.0%"],
        ["门诊时间", "1", "25.0%", "1", "1", "—", "—"],
    ]
    trend = rows_of(page, "menu-trend")
    assert len(trend) == 31 and trend[4] == ["2025-12-05", "1", "0"] and trend[19][:2] == ["2025-12-20", "1"]
    assert sum(int(r[1]) for r in trend) == 3 and sum(int(r[2]) for r in trend) == 1
    by_week = rows_of(client.get("/stats/menu/?from=2025-12&to=2025-12&by=week").content.decode(), "menu-trend")
    assert by_week[0][0] == "2025-12-01" and [r[0] for r in by_week][-1] == "2025-12-29" and len(by_week) == 5
    # Two months: people are counted per month and added (oA in November and in December).
    two = rows_of(client.get("/stats/menu/?from=2025-11&to=2025-12").content.decode(), "menu")
    assert two[0] == ["挂号 曾用名：预约挂号", "4", "80.0%", "3", "3", "+200.0%", "+50.0%"]
    november = rows_of(client.get("/stats/menu/?from=2025-11&to=2025-11").content.decode(), "menu")
    assert november == [["挂号 曾用名：预约挂号", "1", "100.0%", "1", "1", "—", "—"]]  # nothing in Oct 2025 or Nov 2024
    assert "data-empty" in client.get("/stats/menu/?from=2023-01&to=2023-02").content.decode()
    assert client.get("/stats/menu/?by=hour").status_code == 200  # an unknown granularity: by month


def test_the_statistics_pages_speak_english_when_asked(client, hospital):  # noqa: F811
    account, v1, send, base = hospital
    send(MenuClickEvent(**base("oA", "2026-01-05T10:00:00"), key="MENU_BOOK"))
    services.refresh()
    member(client, account, "viewer")
    client.cookies["django_language"] = "en"
    menu = client.get("/stats/menu/?from=2026-01&to=2026-01").content.decode()
    assert "Menu statistics" in menu and "Year on year" in menu and "People (distinct per month)" in menu
    assert "菜单统计" not in menu
    subscriptions = client.get("/stats/subscriptions/").content.decode()
    assert "Nobody subscribed in this period" in subscriptions


def test_the_menu_table_exports_as_csv_and_excel(client, hospital):  # noqa: F811
    import csv
    import io

    import openpyxl

    account, v1, send, base = hospital
    send(MenuClickEvent(**base("oA", "2026-01-05T10:00:00"), key="MENU_BOOK"))
    send(MenuClickEvent(**base("oB", "2026-01-06T10:00:00"), key="MENU_BOOK"))
    send(MenuClickEvent(**base("oB", "2026-01-07T10:00:00"), key="MENU_HOURS"))
    services.refresh()
    member(client, account, "viewer")
    page = client.get("/stats/menu/?from=2026-01&to=2026-01").content.decode()
    assert 'data-export="csv"' in page and "from=2026-01&amp;to=2026-01&amp;format=xlsx" in page
    text = b"".join(client.get("/stats/menu/?from=2026-01&to=2026-01&format=csv").streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:5] == ["菜单项", "曾用名", "点击次数", "占比（%）", "人数（按月去重）"]
    assert rows[1] == ["预约挂号", "", "2", "66.7", "2", "2", "—", "—"] and rows[2][:3] == ["门诊时间", "", "1"]
    # The trend table too, by week (the page's granularity), as its own CSV and as the workbook's second sheet.
    query = "from=2026-01&to=2026-01&by=week"
    assert (
        f"{query}&table=trend&format=csv".replace("&", "&amp;") in client.get(f"/stats/menu/?{query}").content.decode()
    )
    trend = b"".join(client.get(f"/stats/menu/?{query}&table=trend&format=csv").streaming_content)
    weeks = list(csv.reader(io.StringIO(trend.decode("utf-8-sig"))))
    assert weeks[0] == ["时间", "预约挂号", "门诊时间"]
    # 2026-01-01 is a Thursday: weeks start on the Mondays 2025-12-29, 01-05, 01-12, 01-19, 01-26
    assert weeks[1:3] == [["2025-12-29", "0", "0"], ["2026-01-05", "2", "1"]] and len(weeks) == 6
    response = client.get(f"/stats/menu/?{query}&format=xlsx")
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert [c.value for c in book.worksheets[0][2]][:5] == ["预约挂号", "", 2, 66.7, 2]
    assert [c.value for c in book.worksheets[1][3]] == ["2026-01-05", 2, 1]
