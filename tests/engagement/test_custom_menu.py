"""The custom menu is checked against WeChat's limits before anything is sent (naming the item and the
rule), published and imported back unchanged, versioned with stable item identities, and every tap is
resolved to the item and the version live when the patient tapped."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import as_account, fixture_xml
from wechat.errors import WeChatAPIError
from wechat.menus import check_menu
from wxnotify.accounts.wechat import account_api
from wxnotify.engagement import services
from wxnotify.engagement.menus import problems_of
from wxnotify.engagement.models import MenuTap, MenuVersion

pytestmark = pytest.mark.django_db(transaction=True)


def row(name, type="click", parent="", position=0, uid=None, **fields):
    return {
        "uid": uid or str(uuid.uuid4()),
        "parent": parent,
        "position": position,
        "name": name,
        "type": type,
    } | fields


def hospital_menu():
    """预约挂号 (click) | 就诊服务 › 门诊时间 (click), 报告查询 (view) | 疫苗订阅 (view)."""
    parent = row("就诊服务", type="", position=1)
    return [
        row("预约挂号", key="MENU_BOOK", position=0),
        parent,
        row("门诊时间", key="MENU_HOURS", parent=parent["uid"], position=0),
        row("报告查询", type="view", url="https://www.example-hospital.cn/report", parent=parent["uid"], position=1),
        row("疫苗订阅", type="view", url="https://www.example-hospital.cn/hpv", position=2),
    ]


def test_the_checks_name_the_item_and_the_rule():
    rows = [*hospital_menu(), row("停车", key="MENU_PARK", position=3)]
    _, problems = problems_of(rows)
    assert problems == ["整个菜单：一级菜单要有 1 到 3 个，现在有 4 个（微信错误 40016）"]
    rows = hospital_menu()
    rows[2]["name"] = "门诊时间" * 6  # 24 characters, 72 bytes
    rows[0]["name"] = "预约挂号服务中心"  # 8 characters, 24 bytes
    _, problems = problems_of(rows)
    assert problems == [
        "菜单 1「预约挂号服务中心」：名称有 24 字节，微信最多 16 字节（一个汉字 3 字节）（微信错误 40018）",
        "菜单 2「就诊服务」的子菜单 1「"
        + "门诊时间" * 6
        + "」：名称有 72 字节，微信最多 60 字节（一个汉字 3 字节）（微信错误 40025）",
    ]


def test_a_sub_item_under_a_sub_item_is_refused():
    rows = hospital_menu()
    rows.append(row("三级", key="K3", parent=rows[2]["uid"]))
    _, problems = problems_of(rows)
    assert problems == ["「三级」放在了子菜单下：微信的菜单只有两级。"]


@pytest.fixture
def menu_account(simulated_wechat):
    return simulated_wechat


def calls(sim, path="/cgi-bin/menu/create"):
    return sim.get("/_sim/stats")["calls"].get(path, {})


@pytest.mark.parametrize("broken", ["four_top_items", "name_too_long", "key_missing", "ftp_url"])
def test_a_broken_menu_is_refused_before_any_wechat_call(menu_account, broken):
    account, sim = menu_account
    rows = hospital_menu()
    if broken == "four_top_items":
        rows.append(row("停车", key="MENU_PARK", position=3))
    elif broken == "name_too_long":
        rows[4]["name"] = "九价HPV疫苗订阅"  # 3 + 3 + 3×6 = 24 bytes
    elif broken == "key_missing":
        rows[0]["key"] = ""
    else:
        rows[3]["url"] = "ftp://files.example-hospital.cn/report"
    with pytest.raises(services.MenuRefused) as refused:
        services.publish_menu(account=account, rows=rows, user=None)
    assert refused.value.problems and "微信错误" in refused.value.problems[0]
    assert calls(sim) == {} and not MenuVersion.objects.exists()


def test_publish_then_import_gives_back_the_same_menu_and_items(menu_account):
    account, sim = menu_account
    rows = hospital_menu()
    published = services.publish_menu(account=account, rows=rows, user=None)
    assert sim.get(f"/_sim/accounts/{account.appid}")["menu"] == published.buttons
    assert published.menu_id  # read back from menu/get
    imported = services.import_menu(account=account, user=None)
    assert imported.buttons == published.buttons and imported.number == published.number + 1
    identity = {i.name: i.item_id for i in published.items.all()}
    assert {i.name: i.item_id for i in imported.items.all()} == identity


def test_a_renamed_and_moved_item_keeps_its_identity_and_its_taps(menu_account, push):
    account, sim = menu_account
    rows = hospital_menu()
    v1 = services.publish_menu(account=account, rows=rows, user=None)
    MenuVersion.objects.filter(pk=v1.pk).update(live_from=v1.live_from - timedelta(days=30))
    book = rows[0]
    book["name"], book["position"] = "挂号", 5  # renamed, and moved behind 疫苗订阅
    v2 = services.publish_menu(account=account, rows=rows, user=None)
    item_v1 = v1.items.get(name="预约挂号")
    item_v2 = v2.items.get(name="挂号")
    assert item_v1.item_id == item_v2.item_id and (item_v1.position, item_v2.position) == (0, 2)

    def tap(days_ago):
        when = str(int(time.time()) - days_ago * 86400)
        xml = as_account(fixture_xml("menu_click.xml"), account, MENU_GUIDE_OPD="MENU_BOOK", **{"1610969443": when})
        assert push(account, xml).status_code == 200
        return MenuTap.objects.latest("id")

    old, new = tap(10), tap(0)
    assert (old.version, new.version) == (v1, v2)
    assert old.item_id == new.item_id == item_v1.item_id


def test_a_view_tap_is_resolved_by_the_menuid_wechat_sends(menu_account, push):
    """VIEW carries WeChat's MenuId: the version is known even for a tap dated before it (a slow phone clock)."""
    account, sim = menu_account
    version = services.publish_menu(account=account, rows=hospital_menu(), user=None)
    view = as_account(
        fixture_xml("menu_view.xml"),
        account,
        **{
            "https://hospital.example.com/booking": "https://www.example-hospital.cn/report",
            "418236710": str(version.menu_id),
        },
    )  # CreateTime 2021, long before this version went live
    assert push(account, view).status_code == 200
    tap = MenuTap.objects.get()
    assert tap.version == version and tap.item == version.items.get(name="报告查询").item


def test_taps_are_stored_once_whatever_wechat_retries(menu_account, push):
    account, sim = menu_account
    services.publish_menu(account=account, rows=hospital_menu(), user=None)
    now = str(int(time.time()))
    click = as_account(fixture_xml("menu_click.xml"), account, MENU_GUIDE_OPD="MENU_HOURS", **{"1610969443": now})
    view = as_account(fixture_xml("menu_view.xml"), account)
    for body in (click, click, click, view, view):
        assert push(account, body).status_code == 200
    taps = MenuTap.objects.order_by("id")
    assert [(t.event, t.item is not None) for t in taps] == [("CLICK", True), ("VIEW", False)]


# --- the simulator, as WeChat, judges the same menus the same way ----------------------------------

# Mostly menus WeChat takes (short names, the fields each type needs), often one thing wrong with them.
names = st.one_of(
    st.text(alphabet="预约挂号门诊报告疫苗ABCabc1", min_size=1, max_size=5),
    st.text(alphabet="预约挂号门诊报告疫苗ABCabc 1", min_size=0, max_size=25),
)
good_leaf = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("click"), "name": names, "key": st.text(alphabet="K_9", min_size=1, max_size=20)}
    ),
    st.fixed_dictionaries({"type": st.just("view"), "name": names, "url": st.just("https://x.cn/a")}),
    st.fixed_dictionaries(
        {
            "type": st.just("miniprogram"),
            "name": names,
            "url": st.just("https://x.cn/"),
            "appid": st.just("wx0123456789abcdef"),
            "pagepath": st.just("pages/index"),
        }
    ),
    st.fixed_dictionaries({"type": st.just("media_id"), "name": names, "media_id": st.just("MEDIA")}),
)
odd_leaf = st.fixed_dictionaries(
    {
        "name": names,
        "type": st.sampled_from(["click", "view", "miniprogram", "scancode_push", "media_id", "article_id", "bogus"]),
        "key": st.text(alphabet="K_9", max_size=140),
        "url": st.sampled_from(["", "https://x.cn/", "http://x.cn/" + "a" * 1020, "ftp://x.cn/"]),
        "appid": st.sampled_from(["", "wx0123456789abcdef"]),
        "pagepath": st.sampled_from(["", "pages/index"]),
        "media_id": st.sampled_from(["", "MEDIA"]),
        "article_id": st.sampled_from(["", "ARTICLE"]),
    }
)
leaf = st.one_of(good_leaf, good_leaf, good_leaf, odd_leaf)
parent = st.fixed_dictionaries({"name": names, "sub_button": st.lists(leaf, min_size=1, max_size=6)})
menus_strategy = st.one_of(
    st.lists(st.one_of(leaf, parent), min_size=1, max_size=3), st.lists(st.one_of(leaf, parent), max_size=5)
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(buttons=menus_strategy)
def test_the_simulator_agrees_with_the_products_check(menu_account, buttons):
    account, sim = menu_account

    async def create():
        async with account_api(account) as api:
            await api.client.create_menu(buttons=buttons)

    try:
        async_to_sync(create)()
        wechat_code = 0
    except WeChatAPIError as error:
        wechat_code = error.errcode
    codes = {p.errcode for p in check_menu(buttons)}
    assert (wechat_code == 0) == (not codes), (wechat_code, codes, buttons)
    assert wechat_code == 0 or wechat_code in codes
