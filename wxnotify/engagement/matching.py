"""Which reply answers a message or a follow: pure functions over an account's compiled rules.

Kept free of the database so the callback answers from memory (`ruleset.py` holds the compiled rules
per account and process) and so the rules' logic is tested on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from wechat.replies import Article, Reply


def normalize(text: str) -> str:
    """What keywords are compared on: trimmed, case-folded, inner runs of white space as one space."""
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class CompiledRule:
    id: int
    priority: int
    reply: Reply

    @property
    def order(self) -> tuple[int, int]:
        return (self.priority, self.id)


@dataclass(frozen=True)
class RuleSpec:
    """A keyword rule as stored: `match` is exact, contains, click or default."""

    id: int
    match: str
    keywords: tuple[str, ...]
    priority: int
    reply: Reply


@dataclass(frozen=True)
class Matcher:
    exact: dict[str, CompiledRule]  # normalized keyword → the first rule (by priority) that has it
    contains: tuple[tuple[str, CompiledRule], ...]  # (normalized keyword, rule), in priority order
    clicks: dict[str, CompiledRule]  # menu key → rule
    default: CompiledRule | None

    def answer_text(self, content: str) -> CompiledRule | None:
        """The first rule in priority order that matches `content`, else the default reply."""
        text = normalize(content)
        best = self.exact.get(text)
        for keyword, rule in self.contains:
            if best is not None and rule.order >= best.order:
                break  # every later contains-rule ranks below the exact match found
            if keyword in text:
                best = rule
                break
        return best or self.default

    def answer_click(self, key: str) -> CompiledRule | None:
        return self.clicks.get(key)


def build_matcher(rules: Iterable[RuleSpec]) -> Matcher:
    exact: dict[str, CompiledRule] = {}
    contains: list[tuple[str, CompiledRule]] = []
    clicks: dict[str, CompiledRule] = {}
    default: CompiledRule | None = None
    for spec in sorted(rules, key=lambda r: (r.priority, r.id)):
        rule = CompiledRule(spec.id, spec.priority, spec.reply)
        if spec.match == "default":
            default = default or rule
        for keyword in spec.keywords:
            if spec.match == "exact":
                exact.setdefault(normalize(keyword), rule)
            elif spec.match == "contains" and normalize(keyword):
                contains.append((normalize(keyword), rule))
            elif spec.match == "click":
                clicks.setdefault(keyword.strip(), rule)
    return Matcher(exact, tuple(contains), clicks, default)


@dataclass(frozen=True)
class CompiledWelcome:
    id: int
    scene: str  # "" for every follow
    when: str  # any, first, again
    reply: Reply | None
    second: Article | None


def choose_welcome(
    welcomes: Iterable[CompiledWelcome], *, scene: str | None, refollow: bool, scan: bool = False
) -> CompiledWelcome | None:
    """The most specific welcome: this QR scene's before the general one, first/again before "every follow".

    A scan by someone who already follows (SCAN) gets only a welcome of that scene meant for every follow.
    """
    wanted_when = "again" if refollow else "first"
    best: tuple[int, CompiledWelcome] | None = None
    for welcome in welcomes:
        if welcome.scene and welcome.scene != scene:
            continue
        if scan and (not welcome.scene or welcome.when != "any"):
            continue
        if welcome.when not in ("any", wanted_when):
            continue
        rank = (2 if welcome.scene else 0) + (1 if welcome.when != "any" else 0)
        if best is None or rank > best[0]:
            best = (rank, welcome)
    return best[1] if best else None
