"""The operator's engagement pages: edit a welcome with its phone preview and send it to a previewer, keep
keyword rules, edit, preview, publish and import the menu, read its versions; viewers only read."""

import re

import pytest
from django.contrib.auth import get_user_model

from tests.engagement.conftest import welcome
from wxnotify.accounts.models import Membership
from wxnotify.campaigns.models import Previewer
from wxnotify.engagement.models import KeywordRule, MenuVersion, SecondMessage, Welcome

pytestmark = pytest.mark.django_db(transaction=True)


def member(client, account, role="operator"):
    user, _ = get_user_model().objects.get_or_create(username=f"{role}-{account.pk}")
    Membership.objects.get_or_create(user=user, account=account, defaults={"role": role})
    client.force_login(user)
    return user


WELCOME = {
    "scene": "",
    "when": "any",
    "enabled": "on",
    "reply_kind": "news",
    "title": "欢迎关注瑞康医院",
    "description": "预约挂号、报告查询",
    "pic_url": "https://img.example-hospital.cn/w.jpg",
    "url": "https://www.example-hospital.cn/",
    "second_enabled": "on",
    "second_title": "九价HPV疫苗到货提醒",
    "second_description": "一键订阅",
    "second_pic_url": "",
    "second_url": "https://www.example-hospital.cn/hpv",
}


def test_welcome_preview_save_and_test_send(client, simulated_wechat):
    account, sim = simulated_wechat
    member(client, account)
    preview = client.post("/engagement/welcome/new/", WELCOME | {"title": "正在输入的标题"}, HTTP_HX_REQUEST="true")
    html = preview.content.decode()
    assert "<html" not in html and "正在输入的标题" in html and "九价HPV疫苗到货提醒" in html
    assert html.count('class="news-card"') == 2
    saved = client.post("/engagement/welcome/new/", WELCOME)
    w = Welcome.objects.get()
    assert saved.status_code == 302 and w.second_title == "九价HPV疫苗到货提醒"
    assert "欢迎关注瑞康医院" in client.get("/engagement/welcome/").content.decode()
    # a previewer who wrote to the account in the last 48 hours can receive customer-service messages
    staff = sim.post(f"/_sim/accounts/{account.appid}/patients", {"count": 1})["openids"][0]
    sim.post(f"/_sim/accounts/{account.appid}/patients/{staff}/text", {"content": "测试"})
    previewer = Previewer.objects.create(account=account, name="宣传科小王", openid=staff)
    page = client.post(f"/engagement/welcome/{w.pk}/test", {"previewer": previewer.pk}, follow=True).content.decode()
    assert "已发给 宣传科小王" in page
    tests = SecondMessage.objects.filter(is_test=True).order_by("id")
    assert [(t.content["msgtype"], t.state) for t in tests] == [("news", "sent"), ("news", "sent")]
    got = sim.get(f"/_sim/accounts/{account.appid}/patients/{staff}")["received"]
    assert [m["content"]["news"]["articles"][0]["title"] for m in got if m["kind"] == "custom"] == [
        "欢迎关注瑞康医院",
        "九价HPV疫苗到货提醒",
    ]


def test_the_welcome_form_says_what_is_missing(client, make_account):
    account = make_account()
    member(client, account)
    page = client.post(
        "/engagement/welcome/new/", WELCOME | {"title": "", "second_title": "", "pic_url": "ftp://x/"}
    ).content.decode()
    assert "图文需要标题" in page and "第二条图文需要标题" in page and "http:// 或 https://" in page
    assert not Welcome.objects.exists()


def test_the_second_message_log_explains_each_outcome(client, make_account):
    account = make_account()
    member(client, account, "viewer")
    w = welcome(account)
    for state, errcode in [("sent", None), ("failed", 45015), ("failed", 45047), ("skipped", None)]:
        SecondMessage.objects.create(
            account=account, welcome=w, openid=f"o{state}{errcode}", state=state, errcode=errcode
        )
    page = client.get("/engagement/welcome/").content.decode()
    assert "不在客服消息窗口内" in page and "条数已用完" in page and "已超过 1 分钟" in page
    assert 'data-count="failed">2<' in page and 'data-count="sent">1<' in page
    only_failed = client.get("/engagement/welcome/?state=failed").content.decode()
    assert only_failed.count("data-second=") == 2


def test_keyword_rules_page(client, make_account):
    account = make_account()
    member(client, account)
    missing = client.post(
        "/engagement/replies/new/",
        {
            "name": "疫苗",
            "match": "contains",
            "keywords": "",
            "priority": 10,
            "enabled": "on",
            "reply_kind": "text",
            "text": "x",
        },
    )
    assert "请至少填写一个关键词" in missing.content.decode()
    client.post(
        "/engagement/replies/new/",
        {"name": "默认", "match": "default", "priority": 999, "enabled": "on", "reply_kind": "text", "text": "您好"},
    )
    second_default = client.post(
        "/engagement/replies/new/",
        {"name": "默认2", "match": "default", "priority": 999, "enabled": "on", "reply_kind": "text", "text": "您好"},
    )
    assert "已经有一条启用的默认回复" in second_default.content.decode()
    client.post(
        "/engagement/replies/new/",
        {
            "name": "疫苗",
            "match": "contains",
            "keywords": "HPV\n疫苗",
            "priority": 10,
            "enabled": "on",
            "reply_kind": "text",
            "text": "下周到货",
        },
    )
    page = client.get("/engagement/replies/").content.decode()
    in_order = [int(pk) for pk in re.findall(r'data-rule="(\d+)"', page)]
    assert [KeywordRule.objects.get(pk=pk).name for pk in in_order] == ["疫苗", "默认"]  # by priority
    assert "近 30 天回复次数" in page


def formset(rows, extra=0):
    data = {
        "form-TOTAL_FORMS": str(len(rows) + extra),
        "form-INITIAL_FORMS": "0",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "40",
    }
    for i, row in enumerate(rows):
        data |= {f"form-{i}-{k}": v for k, v in row.items()}
    return data


def test_menu_editor_preview_publish_and_versions(client, simulated_wechat):
    account, sim = simulated_wechat
    member(client, account)
    assert "还没有发布过菜单" in client.get("/engagement/menu/").content.decode()
    rows = [
        {"name": "预约挂号", "type": "click", "key": "MENU_BOOK", "position": 0},
        {"name": "疫苗订阅", "type": "view", "url": "https://www.example-hospital.cn/hpv", "position": 1},
        {"name": "报告", "type": "view", "url": "https://www.example-hospital.cn/report", "position": 2},
        {"name": "停车", "type": "click", "key": "MENU_PARK", "position": 3},
    ]
    refused = client.post("/engagement/menu/", formset(rows) | {"action": "publish"}, follow=True).content.decode()
    assert "一级菜单要有 1 到 3 个，现在有 4 个（微信错误 40016）" in refused
    assert "menu/create" not in str(sim.get("/_sim/stats")["calls"]) and not MenuVersion.objects.exists()
    page = client.post("/engagement/menu/", formset(rows[:3]) | {"action": "save"}, follow=True).content.decode()
    assert "草稿已保存" in page and re.search(r'data-menu="1">.*预约挂号', page, re.S)
    published = client.post(
        "/engagement/menu/", formset(rows[:3]) | {"action": "publish"}, follow=True
    ).content.decode()
    assert "菜单已发布到微信。（v1）" in published
    v1 = MenuVersion.objects.get()
    # rename through the editor: the rows come back with their identity (uid) from the draft
    page = client.get("/engagement/menu/").content.decode()
    uids = re.findall(r'name="form-(\d+)-uid" value="([0-9a-f-]{36})"', page)
    names = dict(re.findall(r'name="form-(\d+)-name" value="([^"]*)"', page))
    assert len(uids) == 3
    edited = []
    for index, uid in uids:
        row = next(r for r in rows if r["name"] == names[index]) | {"uid": uid}
        if row["name"] == "预约挂号":
            row["name"] = "挂号"
        edited.append(row)
    client.post("/engagement/menu/", formset(edited) | {"action": "publish"})
    v2 = MenuVersion.objects.get(number=2)
    assert v2.items.get(name="挂号").item_id == v1.items.get(name="预约挂号").item_id
    history = client.get("/engagement/menu/versions/").content.decode()
    assert 'data-renamed-from="预约挂号"' in history
    imported = client.post("/engagement/menu/", {"action": "import"}, follow=True).content.decode()
    assert "已从微信导入当前菜单" in imported and MenuVersion.objects.get(number=3).buttons == v2.buttons


def test_viewers_read_but_do_not_change(client, make_account):
    account = make_account()
    member(client, account, "viewer")
    for url in (
        "/engagement/welcome/",
        "/engagement/welcome/new/",
        "/engagement/replies/",
        "/engagement/menu/",
        "/engagement/menu/versions/",
    ):
        assert client.get(url).status_code == 200, url
    assert client.post("/engagement/welcome/new/", WELCOME).status_code == 403
    assert client.post("/engagement/replies/new/", {"name": "x"}).status_code == 403
    assert client.post("/engagement/menu/", {"action": "import"}).status_code == 403
    assert not Welcome.objects.exists()
