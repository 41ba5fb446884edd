"""Field values checked against WeChat's keyword rules, in words an operator understands.

The rules live in `wechat.keywords` (the simulator answers 47003 with them too); this module only
turns a problem into a sentence naming the field and the reason, in the user's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from wechat.keywords import KeywordProblem, check_one_time, check_value
from wxnotify.subscriptions.models import Template

RULE_HINTS = {
    "thing": gettext_noop("20 个以内字符"),
    "number": gettext_noop("32 位以内数字，可带小数点"),
    "letter": gettext_noop("32 个以内字母"),
    "symbol": gettext_noop("5 个以内符号"),
    "character_string": gettext_noop("32 个以内字母、数字或符号（不含中文）"),
    "time": gettext_noop("24 小时制时间，可带日期，如 15:01 或 2026年12月3日 15:01"),
    "date": gettext_noop("日期，可带时间，如 2026年12月3日"),
    "amount": gettext_noop("金额，如 ¥699.00 或 39.8元"),
    "phone_number": gettext_noop("17 位以内数字或符号"),
    "car_number": gettext_noop("8 位以内车牌号"),
    "name": gettext_noop("10 个以内汉字或 20 个以内字母"),
    "phrase": gettext_noop("5 个以内汉字"),
    "title": gettext_noop("15 个以内字符"),
    "content": gettext_noop("200 个以内字符"),
}


RULE_NAMES = {
    "thing": gettext_noop("事物"),
    "number": gettext_noop("数字"),
    "letter": gettext_noop("字母"),
    "symbol": gettext_noop("符号"),
    "character_string": gettext_noop("字符串"),
    "time": gettext_noop("时间"),
    "date": gettext_noop("日期"),
    "amount": gettext_noop("金额"),
    "phone_number": gettext_noop("电话"),
    "car_number": gettext_noop("车牌"),
    "name": gettext_noop("姓名"),
    "phrase": gettext_noop("汉字"),
    "title": gettext_noop("标题"),
    "content": gettext_noop("内容"),
}


def rule_hint(rule: str) -> str:
    """What a field of this rule takes, in words ("20 个以内字符"); empty for a rule we do not know."""
    return _(RULE_HINTS[rule]) if rule in RULE_HINTS else ""


def rule_name(rule: str) -> str:
    """The rule's name in words ("事物" for WeChat's `thing`)."""
    return _(RULE_NAMES[rule]) if rule in RULE_NAMES else rule


def template_examples(template: Template) -> dict[str, str]:
    """The example WeChat gives with a template ("疫苗名称：九价HPV疫苗" a line), as a sample value per field."""
    by_name = {k["name"]: k["key"] for k in template.keywords}
    samples = {}
    for line in (template.example or "").splitlines():
        name, sep, value = line.replace("：", ":").partition(":")
        if sep and name.strip() in by_name and value.strip():
            samples[by_name[name.strip()]] = value.strip()
    return samples


@dataclass(frozen=True)
class FieldError:
    key: str
    name: str
    message: str


def explain(problem: KeywordProblem, name: str) -> str:
    hint = _(RULE_HINTS.get(problem.rule, "")) if problem.rule in RULE_HINTS else ""
    if problem.reason in ("empty", "missing"):
        return _("「%(name)s」不能为空。") % {"name": name}
    if problem.reason == "too_long":
        # The field's hint already says what it takes: the limit once, not twice.
        return _("「%(name)s」太长：最多 %(limit)s 个字符。") % {"name": name, "limit": problem.limit}
    return _("「%(name)s」不符合微信的格式要求：应为%(hint)s。") % {"name": name, "hint": hint}


def validate_fields(keywords: list[dict[str, str]], values: Mapping[str, str]) -> list[FieldError]:
    """Every field of a template checked; one error per field that WeChat would refuse (47003)."""
    errors = []
    for keyword in keywords:
        problem = check_value(keyword["key"], values.get(keyword["key"], ""))
        if problem is not None:
            errors.append(FieldError(keyword["key"], keyword["name"], explain(problem, keyword["name"])))
    return errors


def validate_one_time(title: str, content: str) -> list[FieldError]:
    """The older one-time subscription message: a title and one free text, as `template/subscribe` checks them."""
    names = {"title": _("标题"), "content": _("内容")}
    return [FieldError(p.key, names[p.key], explain(p, names[p.key])) for p in check_one_time(title, content)]


def validate_message(template: Template, data: Mapping[str, str], title: str = "") -> list[FieldError]:
    """What WeChat would refuse in a notification on `template`: its keyword fields, or for the older
    one-time message its title and one content text."""
    if template.kind == Template.Kind.LEGACY_ONE_TIME:
        return validate_one_time(title, data.get("content", ""))
    return validate_fields(template.keywords, data)
