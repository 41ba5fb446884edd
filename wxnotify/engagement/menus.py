"""The menu editor's rows ↔ WeChat's buttons, and WeChat's refusals in the operator's words.

A row is one item as the editor shows it: its identity (`uid`, kept across versions), its parent's uid
("" at the top), its position, name, type and what it opens. `to_buttons` orders rows into the
`{"button": …}` list WeChat takes and remembers which row each button came from, so every problem
`wechat.menus.check_menu` finds is told against the item the operator typed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from wechat.menus import BUTTON_TYPES, KEY_BYTES, URL_BYTES, MenuProblem, check_menu

FIELDS = ("key", "url", "appid", "pagepath", "media_id", "article_id")
Row = dict[str, Any]


@dataclass
class Built:
    buttons: list[dict[str, Any]]
    uids: dict[tuple[int, ...], str]  # button path → the row's uid
    problems: list[str] = field(default_factory=list)  # problems WeChat's check cannot see (nesting)


def clean_row(row: Mapping[str, Any]) -> Row:
    out: Row = {"uid": str(row.get("uid") or uuid.uuid4()), "parent": str(row.get("parent") or "")}
    try:
        out["position"] = int(row.get("position") or 0)
    except (TypeError, ValueError):
        out["position"] = 0
    for name in ("name", "type", *FIELDS):
        out[name] = str(row.get(name) or "").strip()
    return out


def _button(row: Row) -> dict[str, Any]:
    button: dict[str, Any] = {"type": row["type"], "name": row["name"]}
    needs = BUTTON_TYPES.get(row["type"])
    if needs:
        button[needs] = row[needs]
    if row["type"] == "miniprogram":
        button |= {"appid": row["appid"], "pagepath": row["pagepath"]}
    return button


def to_buttons(rows: Iterable[Mapping[str, Any]]) -> Built:
    """WeChat's button list from editor rows (rows without a name are empty slots and left out)."""
    items = [clean_row(r) for r in rows if str(r.get("name") or "").strip()]
    by_uid = {r["uid"]: r for r in items}
    problems: list[str] = []
    top = sorted((r for r in items if not r["parent"]), key=lambda r: r["position"])
    children: dict[str, list[Row]] = {}
    for r in items:
        if not r["parent"]:
            continue
        parent = by_uid.get(r["parent"])
        if parent is None:
            problems.append(_("「%(name)s」的上级菜单不存在。") % {"name": r["name"]})
        elif parent["parent"]:
            problems.append(_("「%(name)s」放在了子菜单下：微信的菜单只有两级。") % {"name": r["name"]})
        else:
            children.setdefault(r["parent"], []).append(r)
    buttons: list[dict[str, Any]] = []
    uids: dict[tuple[int, ...], str] = {}
    for i, r in enumerate(top):
        uids[(i,)] = r["uid"]
        subs = sorted(children.get(r["uid"], []), key=lambda c: c["position"])
        if subs:
            buttons.append({"name": r["name"], "sub_button": [_button(c) for c in subs]})
            for j, c in enumerate(subs):
                uids[(i, j)] = c["uid"]
        else:
            buttons.append(_button(r))
    return Built(buttons, uids, problems)


def _where(path: tuple[int, ...], buttons: Sequence[Mapping[str, Any]]) -> str:
    top = buttons[path[0]]
    if len(path) == 1:
        return _("菜单 %(n)s「%(name)s」") % {"n": path[0] + 1, "name": top.get("name", "")}
    sub = top["sub_button"][path[1]]
    return _("菜单 %(n)s「%(parent)s」的子菜单 %(m)s「%(name)s」") % {
        "n": path[0] + 1,
        "parent": top.get("name", ""),
        "m": path[1] + 1,
        "name": sub.get("name", ""),
    }


def explain(problem: MenuProblem, buttons: Sequence[Mapping[str, Any]]) -> str:
    """One refusal, naming the item and the rule, with WeChat's code."""
    where = _where(problem.path, buttons) if problem.path else _("整个菜单")
    labels = {
        "name": _("名称"),
        "key": _("key"),
        "url": _("网页地址"),
        "appid": _("小程序 AppID"),
        "pagepath": _("小程序页面"),
        "media_id": _("素材 media_id"),
        "article_id": _("文章 article_id"),
        "type": _("类型"),
    }
    if problem.field == "button":
        rule = _("一级菜单要有 1 到 %(limit)s 个，现在有 %(actual)s 个") % {
            "limit": problem.limit,
            "actual": problem.actual,
        }
    elif problem.field == "sub_button":
        rule = _("子菜单最多 %(limit)s 个，现在有 %(actual)s 个") % {"limit": problem.limit, "actual": problem.actual}
    elif problem.rule == "too_long":
        rule = _("%(field)s有 %(actual)s 字节，微信最多 %(limit)s 字节（一个汉字 3 字节）") % {
            "field": labels.get(problem.field, problem.field),
            "actual": problem.actual,
            "limit": problem.limit,
        }
    elif problem.rule == "missing":
        rule = _("缺少%(field)s") % {"field": labels.get(problem.field, problem.field)}
    elif problem.rule == "not_http":
        rule = _("网页地址要以 http:// 或 https:// 开头")
    else:
        rule = _("不是微信支持的菜单类型")
    return _("%(where)s：%(rule)s（微信错误 %(code)s）") % {"where": where, "rule": rule, "code": problem.errcode}


def problems_of(rows: Iterable[Mapping[str, Any]]) -> tuple[Built, list[str]]:
    """The buttons the rows make and everything wrong with them, in words; no problem means WeChat accepts."""
    built = to_buttons(rows)
    return built, built.problems + [explain(p, built.buttons) for p in check_menu(built.buttons)]


def rows_from_buttons(buttons: Sequence[Mapping[str, Any]], known: Iterable[Mapping[str, Any]] = ()) -> list[Row]:
    """Editor rows for a menu read from WeChat, reusing the identity of a known item that opens the same thing.

    An item is the same item when it has the same type and key (or URL, or page) — its name may have
    changed in WeChat's own editor; a parent, when it has the same name.
    """
    known_rows = [clean_row(k) for k in known]

    def identity(button: Mapping[str, Any], parent_name: str = "") -> tuple[str, ...]:
        kind = str(button.get("type") or "")
        if not kind:
            return ("parent", str(button.get("name") or ""))
        needs = BUTTON_TYPES.get(kind, "key")
        return (kind, str(button.get(needs) or ""), str(button.get("pagepath") or ""))

    by_identity: dict[tuple[str, ...], str] = {}
    for k in known_rows:
        key = identity(k if k["type"] else {"name": k["name"]})
        by_identity.setdefault(key, k["uid"])
    rows: list[Row] = []
    for i, button in enumerate(buttons):
        subs = button.get("sub_button") or []
        if isinstance(subs, Mapping):  # menu/get nests sub-buttons as {"list": [...]} in some versions
            subs = subs.get("list") or []
        top_uid = by_identity.pop(identity(button if not subs else {"name": button.get("name")}), "") or str(
            uuid.uuid4()
        )
        top: Row = clean_row({**button, "uid": top_uid, "position": i, "type": "" if subs else button.get("type")})
        rows.append(top)
        for j, sub in enumerate(subs):
            uid = by_identity.pop(identity(sub), "") or str(uuid.uuid4())
            rows.append(clean_row({**sub, "uid": uid, "parent": top_uid, "position": j}))
    return rows


LIMITS = {"key": KEY_BYTES, "url": URL_BYTES}
