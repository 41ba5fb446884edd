"""The statistics pages: figures from known events, the month picker, the empty state, one account's data only."""

from __future__ import annotations

import re

import pytest

from tests.campaigns.test_console_pages import member
from tests.stats.test_rollups import hospital  # noqa: F401 - the fixture
from tests.subscriptions.conftest import make_activity, make_template
from wechat.messages import SubscribeChoice, SubscribePopupEvent
from wxnotify.stats import selectors, services


def table(html: str) -> list[list[str]]:
    body = html.split('data-table="subscriptions"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.findall(r"<td>(.*?)</td>", row) for row in body.split("</tr>") if "<td>" in row]


def test_subscriptions_per_month_per_template(client, hospital):  # noqa: F811
    account, v1, send, base = hospital
    vaccine = make_template(account, template_id="TPL_VACCINE")
    lecture = make_template(account, template_id="TPL_LECTURE", title="直播开始提醒")
    make_activity(account, vaccine, lecture, title="九价到货")
    make_activity(account, vaccine, title="四价到货")  # the vaccine template is reused: ★

    def accept(openid, when, *templates):
        send(
            SubscribePopupEvent(**base(openid, when), choices=tuple(SubscribeChoice(t, "accept", 2) for t in templates))
        )

    accept("oA", "2025-11-30T23:59:00", "TPL_VACCINE")  # November in Beijing (15:59 UTC)
    accept("oA", "2025-12-01T00:01:00", "TPL_VACCINE", "TPL_LECTURE")  # December in Beijing, still Nov 30 UTC
    accept("oB", "2025-12-15T10:00:00", "TPL_VACCINE")
    accept("oA", "2026-02-01T10:00:00", "TPL_VACCINE")  # January has none
    services.refresh()
    member(client, account, "viewer")
    page = client.get("/stats/subscriptions/?from=2025-11&to=2026-02").content.decode()
    assert "疫苗到货通知 ★" in page and "直播开始提醒 ★" not in page
    # Columns: vaccine (accepts, first time), lecture (accepts, first time); vaccine first (more subscriptions).
    assert table(page) == [
        ["2025-11", "1", "1", "0", "0"],
        ["2025-12", "2", "1", "1", "1"],
        ["2026-01", "0", "0", "0", "0"],
        ["2026-02", "1", "0", "0", "0"],
    ]
    assert 'data-chart="subscriptions-chart"' in page and 'id="subscriptions-chart"' in page
    by_activity = page.split('data-table="by-activity"', 1)[1].split("</tbody>", 1)[0]
    # the drill-down: which activities brought them (article accepts go to the one open activity of a template)
    assert re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(\d+)</td><td>(\d+)</td></tr>", by_activity) == [
        ("疫苗到货通知", "（未归属到活动）", "4", "2"),
        ("直播开始提醒", "九价到货", "1", "1"),
    ]
    # Another range; nonsense falls back to the last 13 months; nothing there is the empty state.
    assert table(client.get("/stats/subscriptions/?from=2025-12&to=2025-12").content.decode()) == [
        ["2025-12", "2", "1", "1", "1"]
    ]
    empty = client.get("/stats/subscriptions/?from=2020-01&to=2020-03").content.decode()
    assert "data-empty" in empty and "data-chart" not in empty
    assert client.get("/stats/subscriptions/?from=abc&to=2026-99").status_code == 200


def test_another_accounts_subscriptions_never_show(client, hospital, make_account):  # noqa: F811
    account, v1, send, base = hospital
    make_template(account, template_id="TPL_VACCINE")
    send(
        SubscribePopupEvent(**base("oA", "2026-01-05T10:00:00"), choices=(SubscribeChoice("TPL_VACCINE", "accept", 2),))
    )
    services.refresh()
    other = make_account(name="别家医院")
    member(client, other, "administrator")
    page = client.get("/stats/subscriptions/?from=2026-01&to=2026-01").content.decode()
    assert "data-empty" in page and "疫苗到货通知" not in page


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("2025-11", "2026-02", ("2025-11", "2026-02", 4)),
        ("2026-02", "2025-11", ("2025-11", "2026-02", 4)),  # reversed: put right
        ("2001-01", "2026-12", ("2022-01", "2026-12", 60)),  # at most 60 months
        ("x", "2026-12", ("2025-12", "2026-12", 13)),  # the default: 13 months up to `to`
    ],
)
def test_month_ranges(first, last, expected):
    months = selectors.month_range(first, last)
    assert (f"{months.first:%Y-%m}", f"{months.last:%Y-%m}", len(months.months)) == expected


def test_recent_subscriptions_per_week_for_the_sparklines(client, hospital):  # noqa: F811
    import time
    from datetime import datetime

    from tests.stats.test_rollups import BEIJING

    account, v1, send, base = hospital
    vaccine = make_template(account, template_id="TPL_VACCINE")
    now = int(time.time())

    def accept(openid, seconds_ago):
        when = datetime.fromtimestamp(now - seconds_ago, BEIJING).strftime("%Y-%m-%dT%H:%M:%S")
        send(SubscribePopupEvent(**base(openid, when), choices=(SubscribeChoice("TPL_VACCINE", "accept", 2),)))

    accept("oA", 0)
    accept("oB", 0)
    accept("oC", 21 * 86400)  # three weeks ago: three slots earlier, whatever today's weekday
    accept("oD", 200 * 86400)  # long ago: not in the last twelve weeks
    services.refresh()
    assert selectors.recent_subscriptions(account) == {vaccine.pk: [0] * 8 + [1, 0, 0, 2]}
    member(client, account, "viewer")
    answer = client.get("/stats/sparklines.json").json()
    assert answer["weeks"] == 12 and answer["series"] == {str(vaccine.pk): [0] * 8 + [1, 0, 0, 2]}
    page = client.get("/templates/").content.decode()
    assert f'data-spark="{vaccine.pk}"' in page and 'data-sparklines="/stats/sparklines.json"' in page
