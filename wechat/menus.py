"""The custom menu (自定义菜单): its button types and WeChat's limits on it (docs/wechat-protocol.md §8).

`check_menu` names every problem WeChat's `menu/create` would refuse, with the errcode it would answer,
so a menu is corrected before it is published. The simulator keeps its own, independent check (as
WeChat does); a test holds the two to the same answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_TOP = 3
MAX_SUB = 5
TOP_NAME_BYTES = 16
SUB_NAME_BYTES = 60
KEY_BYTES = 128
URL_BYTES = 1024

# type → what it needs besides a name (and the event a tap produces, for the reader)
BUTTON_TYPES: dict[str, str] = {
    "click": "key",  # CLICK, EventKey = key
    "view": "url",  # VIEW, EventKey = url
    "miniprogram": "url",  # view_miniprogram; url is the fallback for old clients, plus appid and pagepath
    "scancode_push": "key",
    "scancode_waitmsg": "key",
    "pic_sysphoto": "key",
    "pic_photo_or_album": "key",
    "pic_weixin": "key",
    "location_select": "key",
    "media_id": "media_id",  # permanent material, no event
    "view_limited": "media_id",
    "article_id": "article_id",  # a published article, no event
    "article_view_limited": "article_id",
}


@dataclass(frozen=True)
class MenuProblem:
    """One thing WeChat would refuse. `path` is (top,) or (top, sub), counted from 0; `()` is the menu."""

    path: tuple[int, ...]
    field: str  # "button", "sub_button", "name", "type", "key", "url", "appid", "pagepath", "media_id", "article_id"
    rule: str  # "count", "missing", "too_long", "unknown", "not_http"
    errcode: int
    limit: int = 0  # the limit broken, where there is a number
    actual: int = 0  # what the menu has

    def __str__(self) -> str:
        where = "menu" if not self.path else "button " + ".".join(str(i + 1) for i in self.path)
        numbers = f" ({self.actual} > {self.limit})" if self.limit else ""
        return f"{where}: {self.field} {self.rule}{numbers} [{self.errcode}]"


def _bytes(value: Any) -> int:
    return len(str(value or "").encode("utf-8"))


def _check_leaf(button: Mapping[str, Any], path: tuple[int, ...]) -> list[MenuProblem]:
    sub = len(path) == 2
    # WeChat's codes differ for top-level and sub-buttons: 40017–40020 and 40024–40027
    type_code, name_code, key_code, url_code = (40024, 40025, 40026, 40027) if sub else (40017, 40018, 40019, 40020)
    problems: list[MenuProblem] = []
    name_limit = SUB_NAME_BYTES if sub else TOP_NAME_BYTES
    name = _bytes(button.get("name"))
    if not name:
        problems.append(MenuProblem(path, "name", "missing", name_code))
    elif name > name_limit:
        problems.append(MenuProblem(path, "name", "too_long", name_code, name_limit, name))
    kind = button.get("type")
    needs = BUTTON_TYPES.get(str(kind))
    if needs is None:
        return [*problems, MenuProblem(path, "type", "unknown", type_code)]
    if needs == "key":
        key = _bytes(button.get("key"))
        if not key:
            problems.append(MenuProblem(path, "key", "missing", key_code))
        elif key > KEY_BYTES:
            problems.append(MenuProblem(path, "key", "too_long", key_code, KEY_BYTES, key))
    elif needs == "url":
        url = str(button.get("url") or "")
        if not url:
            problems.append(MenuProblem(path, "url", "missing", url_code))
        elif _bytes(url) > URL_BYTES:
            problems.append(MenuProblem(path, "url", "too_long", url_code, URL_BYTES, _bytes(url)))
        elif not url.startswith(("http://", "https://")):
            problems.append(MenuProblem(path, "url", "not_http", 40055))
        if kind == "miniprogram":
            if not button.get("appid"):
                problems.append(MenuProblem(path, "appid", "missing", 40166))
            elif not button.get("pagepath"):
                problems.append(MenuProblem(path, "pagepath", "missing", 40165))
    elif not button.get(needs):
        problems.append(MenuProblem(path, needs, "missing", 40007))
    return problems


def check_menu(buttons: Sequence[Mapping[str, Any]]) -> list[MenuProblem]:
    """Everything `menu/create` would refuse in `{"button": buttons}`; empty when WeChat would accept it."""
    problems: list[MenuProblem] = []
    if not 1 <= len(buttons) <= MAX_TOP:
        problems.append(MenuProblem((), "button", "count", 40016, MAX_TOP, len(buttons)))
    for i, button in enumerate(buttons):
        subs = button.get("sub_button") or []
        if not subs:
            problems += _check_leaf(button, (i,))
            continue
        name = _bytes(button.get("name"))
        if not name:
            problems.append(MenuProblem((i,), "name", "missing", 40018))
        elif name > TOP_NAME_BYTES:
            problems.append(MenuProblem((i,), "name", "too_long", 40018, TOP_NAME_BYTES, name))
        if len(subs) > MAX_SUB:
            problems.append(MenuProblem((i,), "sub_button", "count", 40023, MAX_SUB, len(subs)))
        for j, sub in enumerate(subs):
            problems += _check_leaf(sub, (i, j))
    return problems


def first_errcode(buttons: Sequence[Mapping[str, Any]]) -> int:
    """The errcode WeChat answers for this menu: 0, or the first problem's (it stops at the first)."""
    problems = check_menu(buttons)
    return problems[0].errcode if problems else 0
