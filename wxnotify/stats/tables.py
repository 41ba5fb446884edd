"""Each statistics table as (title, header, rows): what the exports (CSV, Excel) and the monthly report write.
The pages show the same figures; headers follow the console's language."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext as _

from wxnotify.stats import selectors
from wxnotify.stats.models import DeliveryDaily

Table = tuple[str, list[str], list[Sequence[Any]]]


def _pct(value: float | None) -> Any:
    return "—" if value is None else value


def subscriptions(months: selectors.MonthRange, series: list[selectors.TemplateSeries]) -> Table:
    header = [_("月份")]
    for s in series:
        header += [f"{s.template.title} · {_('新增订阅')}", f"{s.template.title} · {_('首次订阅人数')}"]
    rows: list[Sequence[Any]] = []
    for i, month in enumerate(months.months):
        row: list[Any] = [f"{month:%Y-%m}"]
        for s in series:
            row += [s.accepts[i], s.first_time[i]]
        rows.append(row)
    return _("订阅统计"), header, rows


def subscriptions_by_template(series: list[selectors.TemplateSeries]) -> Table:
    """One period's subscriptions, a row per template (the monthly report)."""
    rows: list[Sequence[Any]] = [
        [s.template.title, _("是") if s.reused else "", s.total, sum(s.first_time)] for s in series
    ]
    header = [_("模板"), _("多个活动复用"), _("新增订阅"), _("首次订阅人数")]
    return _("订阅统计"), header, rows


def subscriptions_by_activity(rows: list[tuple[str, str, int, int]]) -> Table:
    return _("订阅来源活动"), [_("模板"), _("活动"), _("新增订阅"), _("首次订阅人数")], list(rows)


def menu(months: selectors.MonthRange, uses: list[selectors.MenuItemUse]) -> Table:
    header = [
        _("菜单项"),
        _("曾用名"),
        _("点击次数"),
        _("占比（%）"),
        _("人数（按月去重）"),
        _("%(month)s 点击") % {"month": f"{months.last:%Y-%m}"},
        _("环比（%）"),
        _("同比（%）"),
    ]
    rows: list[Sequence[Any]] = [
        [u.name, "、".join(u.former_names), u.taps, u.share, u.people, u.last_month, _pct(u.mom), _pct(u.yoy)]
        for u in uses
    ]
    return _("菜单统计"), header, rows


def menu_trend(labels: list[str], trend: dict[int | None, list[int]], uses: list[selectors.MenuItemUse]) -> Table:
    header = [_("时间"), *(u.name for u in uses)]
    rows: list[Sequence[Any]] = [
        [label, *(trend.get(u.item_id, [0] * len(labels))[i] for u in uses)] for i, label in enumerate(labels)
    ]
    return _("菜单点击趋势"), header, rows


def followers(growth: selectors.FollowerGrowth) -> Table:
    header = [_("时间"), _("关注"), _("取消关注"), _("净增"), _("期末粉丝总数")]
    rows: list[Sequence[Any]] = [
        list(r) for r in zip(growth.labels, growth.follows, growth.unfollows, growth.net, growth.total, strict=True)
    ]
    return _("粉丝增长"), header, rows


def scenes(growth: selectors.FollowerGrowth) -> Table:
    rows: list[Sequence[Any]] = [[scene or _("（非扫码关注）"), n, share] for scene, n, share in growth.scenes]
    return _("关注来源场景"), [_("关注来源场景"), _("关注"), _("占比（%）")], rows


def sends(funnels: list[selectors.SendFunnel]) -> Table:
    header = [
        _("通知"),
        _("模板"),
        _("开始时间"),
        _("目标人数"),
        _("已发送"),
        _("已送达"),
        _("失败"),
        _("已跳过"),
        _("结果未知"),
        _("点击人数"),
        _("点击次数"),
        _("点击率（%）"),
    ]
    rows: list[Sequence[Any]] = []
    for f in funnels:
        started = f"{selectors.local(f.campaign.started_at):%Y-%m-%d %H:%M}" if f.campaign.started_at else ""
        clicks = [f.tapped, f.taps, _pct(f.tap_rate)] if f.trackable else [_("小程序，无法统计"), "", ""]
        c = f.campaign
        rows.append(
            [c.name, c.template.title, started, f.target, f.sent, f.delivered, f.failed, f.skipped, f.unknown, *clicks]
        )
    return _("通知效果"), header, rows


def outcomes(labels: list[str], series: dict[str, list[int]]) -> Table:
    """What became of the sends' deliveries in each period."""
    names = dict(DeliveryDaily.Outcome.choices)
    header = [_("时间"), *(str(names[o]) for o in series)]
    rows: list[Sequence[Any]] = [[label, *(counts[i] for counts in series.values())] for i, label in enumerate(labels)]
    return _("每日发送结果"), header, rows


def campaign_days(labels: list[str], series: dict[str, list[int]]) -> Table:
    header = [_("日期"), _("已发送"), _("已送达"), _("失败"), _("点击次数")]
    keys = ["sent", "delivered", "failed", "taps"]
    rows: list[Sequence[Any]] = [[label, *(series[k][i] for k in keys)] for i, label in enumerate(labels)]
    return _("每日发送与点击"), header, rows


def reasons(rows: list[tuple[int | None, str, str, int]]) -> Table:
    header = [_("没有收到的原因"), _("建议"), _("错误码"), _("人数")]
    return _("没有收到的原因"), header, [[r or "—", a, "" if c is None else c, n] for c, r, a, n in rows]
