"""The demo's follower engagement: welcomes, keyword replies and a menu with history, set up through the
same services the console uses (the menu is published to the simulator each time).

The menu's first two versions are dated back (14 and 6 months) after publishing, so that the demo's
history of taps resolves to the versions a patient would have seen then; the rename between them
("疫苗预约" → "HPV疫苗预约") shows an item keeping its identity.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.utils import timezone

from wxnotify.accounts.models import OfficialAccount
from wxnotify.engagement import services
from wxnotify.engagement.models import KeywordRule, MenuVersion, Welcome

SITE = "https://www.ruikang-hospital.example.cn"


def _uid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"wxnotify-demo-menu/{name}"))


def _row(name: str, ident: str, position: int, parent: str = "", **fields: Any) -> dict[str, Any]:
    return {"uid": _uid(ident), "parent": _uid(parent) if parent else "", "position": position, "name": name} | fields


MENU_HISTORY: list[tuple[int, list[dict[str, Any]]]] = [
    (
        425,
        [
            _row("就医指南", "guide", 0, type="click", key="MENU_GUIDE_OPD"),
            _row("预约服务", "booking", 1),
            _row("疫苗预约", "vaccine", 0, "booking", type="view", url=f"{SITE}/vaccine"),
            _row("体检预约", "checkup", 1, "booking", type="click", key="MENU_CHECKUP"),
            _row("健康讲座", "lectures", 2, type="click", key="MENU_LECTURES"),
        ],
    ),
    (
        180,
        [
            _row("就医指南", "guide", 0, type="click", key="MENU_GUIDE_OPD"),
            _row("预约服务", "booking", 1),
            _row("HPV疫苗预约", "vaccine", 0, "booking", type="view", url=f"{SITE}/vaccine"),  # renamed
            _row("体检预约", "checkup", 1, "booking", type="click", key="MENU_CHECKUP"),
            _row("报告查询", "report", 2, "booking", type="view", url=f"{SITE}/report"),  # new
            _row("健康讲座", "lectures", 2, type="click", key="MENU_LECTURES"),
        ],
    ),
    (
        0,
        [
            _row("就医指南", "guide", 0, type="click", key="MENU_GUIDE_OPD"),
            _row("预约服务", "booking", 1),
            _row("HPV疫苗预约", "vaccine", 0, "booking", type="view", url=f"{SITE}/vaccine"),
            _row("报告查询", "report", 1, "booking", type="view", url=f"{SITE}/report"),  # moved up
            _row("体检预约", "checkup", 2, "booking", type="click", key="MENU_CHECKUP"),
            _row("健康讲座", "lectures", 2, type="click", key="MENU_LECTURES"),
        ],
    ),
]

WELCOMES: list[dict[str, Any]] = [
    {
        "when": "any",
        "reply_kind": "news",
        "title": "欢迎关注瑞康医院",
        "description": "预约挂号、报告查询、疫苗与体检预约，点开看就医指南",
        "pic_url": f"{SITE}/img/welcome.jpg",
        "url": f"{SITE}/guide",
        "second_enabled": True,
        "second_title": "九价HPV疫苗到货提醒：一键订阅",
        "second_description": "到货后第一时间在微信里通知你",
        "second_pic_url": f"{SITE}/img/hpv.jpg",
        "second_url": f"{SITE}/hpv",
    },
    {
        "when": "again",
        "reply_kind": "text",
        "text": "欢迎回来！最近的健康讲座和义诊活动都在菜单「健康讲座」里。",
        "second_enabled": True,
        "second_title": "本月健康讲座：糖尿病饮食管理",
        "second_description": "周四晚 19:30 视频号直播",
        "second_url": f"{SITE}/lectures",
    },
    {
        "scene": "poster_hpv_2026",
        "when": "any",
        "reply_kind": "news",
        "title": "感谢扫描HPV疫苗海报",
        "description": "点这里订阅到货提醒，到货后第一时间通知你",
        "url": f"{SITE}/hpv",
    },
]

RULES: list[dict[str, Any]] = [
    {
        "name": "HPV疫苗",
        "match": "contains",
        "keywords": "HPV\n九价\n宫颈癌疫苗",
        "priority": 10,
        "reply_kind": "news",
        "title": "九价HPV疫苗到货提醒",
        "description": "订阅后到货第一时间通知你",
        "url": f"{SITE}/hpv",
    },
    {
        "name": "体检",
        "match": "contains",
        "keywords": "体检\n套餐",
        "priority": 20,
        "reply_kind": "text",
        "text": "体检套餐可在菜单「预约服务 › 体检预约」中预约，每周一至周六上午 7:30–10:00 空腹体检。",
    },
    {
        "name": "门诊时间",
        "match": "contains",
        "keywords": "门诊\n周六\n周日",
        "priority": 30,
        "reply_kind": "text",
        "text": "门诊时间：周一至周日 8:00–12:00、13:30–17:30，节假日另行通知。",
    },
    {
        "name": "停车",
        "match": "contains",
        "keywords": "停车",
        "priority": 40,
        "reply_kind": "text",
        "text": "医院地下停车场入口在健康路，就诊凭挂号单 2 小时内免费。",
    },
    {
        "name": "谢谢",
        "match": "exact",
        "keywords": "谢谢\n好的",
        "priority": 50,
        "reply_kind": "text",
        "text": "不客气，祝你健康！",
    },
    {
        "name": "菜单：就医指南",
        "match": "click",
        "keywords": "MENU_GUIDE_OPD",
        "priority": 60,
        "reply_kind": "news",
        "title": "就医指南：挂号、就诊、取报告",
        "url": f"{SITE}/guide",
    },
    {
        "name": "默认回复",
        "match": "default",
        "keywords": "",
        "priority": 999,
        "reply_kind": "text",
        "text": "收到！人工客服 8:00–17:30 在线。也可以试试发送「HPV」「体检」「门诊」。",
    },
]


def ensure_demo_engagement(account: OfficialAccount, user: Any) -> list[MenuVersion]:
    """Welcomes, keyword replies and three menu versions; returns the versions, oldest first."""
    if not Welcome.objects.filter(account=account).exists():
        for fields in WELCOMES:
            services.save_welcome(welcome=Welcome(account=account, **fields), user=user)
        for fields in RULES:
            services.save_rule(rule=KeywordRule(account=account, **fields))
    if not MenuVersion.objects.filter(account=account).exists():
        now = timezone.now().replace(microsecond=0)
        for days_ago, rows in MENU_HISTORY:
            version = services.publish_menu(account=account, rows=rows, user=user)
            if days_ago:
                MenuVersion.objects.filter(pk=version.pk).update(live_from=now - timedelta(days=days_ago))
    return list(MenuVersion.objects.filter(account=account).order_by("number"))


def taps_at(versions: list[MenuVersion]) -> Any:
    """For the demo's history: what a patient could tap at time t (event, key or URL, WeChat's menuid)."""

    def taps(t: int) -> list[tuple[str, str, str | None]]:
        live = [v for v in versions if v.live_from.timestamp() <= t]
        if not live:
            return []
        version = live[-1]
        out: list[tuple[str, str, str | None]] = []
        for top in version.buttons:
            for button in top.get("sub_button") or [top]:
                if button.get("type") == "click":
                    out.append(("CLICK", button["key"], None))
                elif button.get("type") == "view":
                    out.append(("VIEW", button["url"], str(version.menu_id) if version.menu_id else None))
        return out

    return taps
