"""An account's replies held in memory, per process, and rebuilt when `RuleSet.stamp` changes.

Answering a push then costs one indexed read (the version) and a dictionary lookup or a short scan,
however many rules an account has: WeChat's 5 seconds are never at risk (`make bench`:
`benchmarks.keyword_replies`). Any change goes through `services`, which gives it a new stamp in the
same transaction, so every web process sees it on its next push.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

from wxnotify.accounts.models import OfficialAccount
from wxnotify.engagement.matching import CompiledWelcome, Matcher, RuleSpec, build_matcher
from wxnotify.engagement.models import KeywordRule, RuleSet, Welcome


@dataclass(frozen=True)
class Rules:
    version: uuid.UUID | None
    matcher: Matcher
    welcomes: tuple[CompiledWelcome, ...]


_lock = threading.Lock()
_cache: dict[int, Rules] = {}


def current_version(account: OfficialAccount) -> uuid.UUID | None:
    return RuleSet.objects.filter(account=account).values_list("stamp", flat=True).first()


def bump(account: OfficialAccount) -> None:
    """Call inside the transaction that changes a rule or a welcome."""
    RuleSet.objects.update_or_create(account=account, defaults={"stamp": uuid.uuid4()})


def _compile(account: OfficialAccount, version: uuid.UUID | None) -> Rules:
    specs = [
        RuleSpec(r.pk, r.match, tuple(r.keyword_list()), r.priority, reply)
        for r in KeywordRule.objects.filter(account=account, enabled=True)
        if (reply := r.as_reply()) is not None
    ]
    welcomes = tuple(
        CompiledWelcome(w.pk, w.scene, w.when, w.as_reply(), w.second_article())
        for w in Welcome.objects.filter(account=account, enabled=True)
    )
    return Rules(version, build_matcher(specs), welcomes)


def rules_for(account: OfficialAccount) -> Rules:
    # The version is read before the rules: a change committed in between makes the next push rebuild
    # again, never keeps an old copy under a new number.
    version = current_version(account)
    cached = _cache.get(account.pk)
    if cached is not None and cached.version == version:
        return cached
    rules = _compile(account, version)
    with _lock:
        _cache[account.pk] = rules
    return rules
