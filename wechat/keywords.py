"""Subscription-notification keyword values: WeChat's rules per value type (docs/wechat-protocol.md §2.4).

A template's placeholder key is the rule name plus a number (`thing1`, `character_string13`); the rule
decides what a value may hold. WeChat does not publish its exact checks; these follow the documented
limits and the observed edge cases (phrase refuses digits and Latin, name refuses digits). The same
checks serve the simulator (which answers 47003) and the product (which refuses before sending).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+\d+)\.DATA\s*\}\}")
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DATE = r"(?:\d{4}年\d{1,2}月\d{1,2}日|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}月\d{1,2}日)"
_CLOCK = r"(?:[01]?\d|2[0-3])[:：][0-5]\d(?:[:：][0-5]\d)?"
_TIME_ONE = rf"(?:{_DATE}\s*)?{_CLOCK}|{_DATE}"
_DATE_ONE = rf"{_DATE}(?:\s*{_CLOCK})?"


def _range(one: str) -> re.Pattern[str]:
    return re.compile(rf"^(?:{one})(?:\s*[~～至-]\s*(?:{one}))?$")


_PATTERNS: dict[str, re.Pattern[str]] = {
    "number": re.compile(r"^[-+]?\d+(?:\.\d+)?$"),
    "letter": re.compile(r"^[A-Za-z]+$"),
    "character_string": re.compile(r"^[\x21-\x7e]+$"),
    "time": _range(_TIME_ONE),
    "date": _range(_DATE_ONE),
    "amount": re.compile(r"^[¥￥$€£]?\d{1,10}(?:\.\d{1,2})?元?$"),
    "phone_number": re.compile(r"^[\d+\-()\s]+$"),
    "car_number": re.compile(rf"^[{_CJK}]?[A-Z0-9]{{1,7}}[{_CJK}]?$"),
    "phrase": re.compile(rf"^[{_CJK}]+$"),
    "symbol": re.compile(rf"^[^\sA-Za-z0-9{_CJK}]+$"),
}
_MAX_LENGTH = {
    "thing": 20,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "character_string": 32,
    "time": 40,
    "date": 40,
    "amount": 14,
    "phone_number": 17,
    "car_number": 8,
    "phrase": 5,
}
RULES = frozenset([*_MAX_LENGTH, "name", "enum", "const"])


@dataclass(frozen=True)
class KeywordProblem:
    key: str  # e.g. "thing3"
    rule: str  # e.g. "thing"
    reason: str  # "empty" | "too_long" | "invalid" | "unknown_key" | "missing"
    limit: int | None = None

    def errmsg(self) -> str:
        """WeChat's wording for 47003 (its typo "emtpy" included)."""
        if self.reason in ("empty", "missing"):
            return f"argument invalid! data.{self.key}.value is emtpy"
        return f"argument invalid! data.{self.key}.value invalid"

    def describe(self) -> str:
        """A plain English sentence for logs and the simulator's control API."""
        texts = {
            "empty": "must not be empty",
            "missing": "is required by the template",
            "too_long": f"is longer than {self.limit} characters",
            "invalid": f"is not a valid {self.rule} value",
            "unknown_key": "is not a field of this template",
        }
        return f"{self.key}: {texts[self.reason]}"


def rule_of(key: str) -> str:
    """`character_string13` → `character_string`."""
    return key.rstrip("0123456789")


def placeholders(content: str) -> list[str]:
    """The keys of a template's content, in order: "时间:{{time2.DATA}}" → ["time2"]."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(content)))


def _is_cjk(ch: str) -> bool:
    return any(lo <= ch <= hi for lo, hi in (("\u3400", "\u4dbf"), ("\u4e00", "\u9fff"), ("\uf900", "\ufaff")))


def check_value(key: str, value: object) -> KeywordProblem | None:
    """The problem with `value` for placeholder `key`, or None when WeChat would accept it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return KeywordProblem(key, rule_of(key), "empty")
    if not isinstance(value, str | int | float):
        return KeywordProblem(key, rule_of(key), "invalid")
    return _check(key, str(value))


@lru_cache(maxsize=8192)  # a campaign sends the same values to everyone: check each once
def _check(key: str, value: str) -> KeywordProblem | None:
    rule = rule_of(key)
    if not value.strip():
        return KeywordProblem(key, rule, "empty")
    if _CONTROL.search(value):
        return KeywordProblem(key, rule, "invalid")
    if rule == "name":
        has_cjk = any(_is_cjk(c) for c in value)
        limit = 10 if has_cjk else 20
        if len(value) > limit:
            return KeywordProblem(key, rule, "too_long", limit)
        if any(c.isdigit() for c in value):
            return KeywordProblem(key, rule, "invalid")
        return None
    limit = _MAX_LENGTH.get(rule, 20)
    if len(value) > limit:
        return KeywordProblem(key, rule, "too_long", limit)
    pattern = _PATTERNS.get(rule)
    if pattern is not None and not pattern.match(value.strip()):
        return KeywordProblem(key, rule, "invalid")
    return None


def check_data(template_keys: Iterable[str], data: Mapping[str, object]) -> list[KeywordProblem]:
    """Every problem of `data` against a template's keys: unknown keys, missing keys, bad values."""
    keys = list(template_keys)
    problems = [KeywordProblem(k, rule_of(k), "unknown_key") for k in data if k not in keys]
    for key in keys:
        if key not in data:
            problems.append(KeywordProblem(key, rule_of(key), "missing"))
        else:
            problem = check_value(key, data[key])
            if problem:
                problems.append(problem)
    return problems


# The older one-time subscription message (`template/subscribe`) has no keyword template: a title of at
# most 15 characters and one free-text `content` of at most 200 (docs/wechat-protocol.md §3).
ONE_TIME_LIMITS = {"title": 15, "content": 200}


def check_one_time(title: object, content: object) -> list[KeywordProblem]:
    """Problems of an older one-time subscription message, in WeChat's order (title first)."""
    problems = []
    for key, value in (("title", title), ("content", content)):
        limit = ONE_TIME_LIMITS[key]
        if not isinstance(value, str) or not value.strip():
            problems.append(KeywordProblem(key, key, "empty"))
        elif _CONTROL.search(value):
            problems.append(KeywordProblem(key, key, "invalid"))
        elif len(value) > limit:
            problems.append(KeywordProblem(key, key, "too_long", limit))
    return problems
