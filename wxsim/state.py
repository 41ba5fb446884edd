"""The simulator's world: accounts, tokens, templates, patients, quotas, faults. All in memory.

Everything here is synchronous and single-threaded (the aiohttp loop owns it), so no locks. Time
comes from `Clock`, which tests can move forward to expire tokens or roll quotas over.
"""

from __future__ import annotations

import itertools
import random
import secrets
import string
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from wxsim.library import TITLES, Keyword

TOKEN_LIFETIME = 7200
GRACE = 300  # an old token stays valid this long after a new one is issued


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def day(self) -> int:
        return int((self.now() + 8 * 3600) // 86400)  # WeChat's days turn at midnight Beijing time

    def minute(self) -> int:
        return int(self.now() // 60)


class ApiError(Exception):
    """An answer with a non-zero errcode; `errmsg` is WeChat's text without the rid."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errcode, errmsg)
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass
class Token:
    value: str
    appid: str
    expires_at: float
    revoked_at: float | None = None  # from then on: 40001 (superseded) rather than 42001 (expired)


@dataclass
class Template:
    pri_tmpl_id: str
    tid: int
    title: str
    type: int  # 2 one-time, 3 long-term
    keywords: tuple[Keyword, ...]
    scene_desc: str = ""
    keys: tuple[str, ...] = ()  # the placeholder keys, computed once (bizsend checks them on every call)

    def __post_init__(self) -> None:
        self.keys = tuple(k.key for k in self.keywords)

    def content(self) -> str:
        return "".join(f"{k.name}:{{{{{k.key}.DATA}}}}\n" for k in self.keywords)

    def example(self) -> str:
        return "".join(f"{k.name}:{k.example}\n" for k in self.keywords)

    def as_json(self) -> dict[str, Any]:
        return {
            "priTmplId": self.pri_tmpl_id,
            "title": self.title,
            "content": self.content(),
            "example": self.example(),
            "type": self.type,
        }


@dataclass(slots=True)
class Received:
    """Something a patient's WeChat showed them."""

    kind: str  # "subscribe" (bizsend), "one_time" (template/subscribe), "custom" (custom/send), "reply" (passive)
    at: float
    template_id: str = ""
    msgid: int = 0
    content: dict[str, Any] = field(default_factory=dict)


@dataclass
class Grant:
    """Permission to send customer-service messages after an interaction (docs/wechat-protocol.md §7)."""

    kind: str  # "text" (5 in 48 h) or "event" (3 in 1 min: follow, click, scan)
    until: float
    remaining: int


@dataclass
class Patient:
    openid: str
    following: bool = True
    followed_at: float = 0.0
    credits: Counter[str] = field(default_factory=Counter)  # one-time template → sends left
    long_term: dict[str, bool] = field(default_factory=dict)  # long-term template → switched on
    one_time_auth: set[tuple[str, int]] = field(default_factory=set)  # older one-time subscription (template, scene)
    inbox: list[Received] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    qr_scene: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "openid": self.openid,
            "following": self.following,
            "credits": dict(self.credits),
            "long_term": self.long_term,
            "received": [
                {"kind": r.kind, "at": r.at, "template_id": r.template_id, "msgid": r.msgid, "content": r.content}
                for r in self.inbox
            ],
        }


@dataclass
class Menu:
    buttons: list[dict[str, Any]]
    menu_id: int


@dataclass
class Account:
    appid: str
    secret: str
    original_id: str
    token: str  # callback token
    encoding_aes_key: str = ""
    mode: str = "plaintext"
    callback_url: str = ""
    name: str = ""
    templates: dict[str, Template] = field(default_factory=dict)
    patients: dict[str, Patient] = field(default_factory=dict)
    menu: Menu | None = None
    current_token: str = ""
    stable_token: str = ""
    last_force_refresh: float = 0.0
    jsapi_ticket: tuple[str, float] = ("", 0.0)
    one_time_template_id: str = ""  # the fixed id of the older one-time subscription message
    clear_quota_month: tuple[int, int] = (0, 0)  # (month, uses)

    def patient(self, openid: str) -> Patient:
        patient = self.patients.get(openid)
        if patient is None:
            raise ApiError(40003, "invalid openid")
        return patient


@dataclass
class Fault:
    """Injected misbehaviour for one API path (or "*")."""

    path: str
    rate: float = 1.0
    errcode: int | None = None
    errmsg: str = "system error"
    http_status: int | None = None
    timeout: bool = False  # never answer (the client's timeout fires)
    latency_ms: dict[str, Any] | None = None  # {"fixed": 50} | {"uniform": [10, 90]} | {"normal": [mean, sd]}
    remaining: int | None = None  # stop after this many hits

    def delay(self, rng: random.Random) -> float:
        spec = self.latency_ms or {}
        if "fixed" in spec:
            return float(spec["fixed"]) / 1000
        if "uniform" in spec:
            lo, hi = spec["uniform"]
            return rng.uniform(lo, hi) / 1000
        if "normal" in spec:
            mean, sd = spec["normal"]
            return max(0.0, rng.gauss(mean, sd)) / 1000
        return 0.0


# Daily limits (docs/wechat-protocol.md §11); bizsend's is not published, so it is generous and configurable.
DAILY_LIMITS: dict[str, int] = {
    "/cgi-bin/token": 2000,
    "/cgi-bin/stable_token": 500_000,
    "/cgi-bin/message/subscribe/bizsend": 10_000_000,
    "/cgi-bin/message/template/subscribe": 100_000,
    "/cgi-bin/message/custom/send": 500_000,
    "/cgi-bin/menu/create": 1000,
    "/cgi-bin/menu/get": 10_000,
    "/cgi-bin/menu/delete": 1000,
    "/cgi-bin/user/get": 500,
    "/cgi-bin/user/info": 5_000_000,
    "/cgi-bin/user/info/batchget": 5_000_000,
    "/cgi-bin/ticket/getticket": 100_000,
}
MINUTE_LIMITS: dict[str, int] = {"/cgi-bin/stable_token": 10_000}


class World:
    def __init__(self, *, seed: int | None = None) -> None:
        self.clock = Clock()
        self.rng = random.Random(seed)
        self.accounts: dict[str, Account] = {}
        self.tokens: dict[str, Token] = {}
        self.calls: Counter[tuple[str, int]] = Counter()  # (path, errcode)
        self.daily: Counter[tuple[str, str, int]] = Counter()  # (appid, path, day)
        self.minutely: Counter[tuple[str, str, int]] = Counter()  # (appid, path, minute)
        self.daily_limits = dict(DAILY_LIMITS)
        self.minute_limits = dict(MINUTE_LIMITS)
        self.faults: dict[str, list[Fault]] = defaultdict(list)
        self.sensitive_words: list[str] = ["赌博", "代开发票", "枪支"]
        # Seconds between a subscribe button's answer in the page and WeChat's event to the server: real
        # WeChat answers the page first and pushes the event when it does (0: pushed before the answer).
        self.popup_event_delay = 0.0
        self.words_version = 0  # bumped on every change, so cached content verdicts are not reused
        self.in_flight: set[tuple[str, str]] = set()  # (appid, openid) of bizsends being answered
        self.oauth_codes: dict[str, tuple[str, str, float]] = {}  # code → (appid, openid, expires_at)
        self.used_codes: set[str] = set()
        self._msgids = itertools.count(1_700_000_000_000_000_000 + self.rng.randrange(10**15))
        self._rids = itertools.count(self.rng.randrange(16**8))

    # --- helpers -----------------------------------------------------------------------------

    def rid(self) -> str:
        n = next(self._rids)
        return f"{n & 0xFFFFFFFF:08x}-{(n * 2654435761) & 0xFFFFFFFF:08x}-{(n * 40503) & 0xFFFFFFFF:08x}"

    def next_msgid(self) -> int:
        return next(self._msgids)

    def account(self, appid: str) -> Account:
        account = self.accounts.get(appid)
        if account is None:
            raise ApiError(40013, "invalid appid")
        return account

    def _new_secret_value(self, n: int = 64) -> str:
        return "".join(self.rng.choice(string.ascii_letters + string.digits + "_-") for _ in range(n))

    def count(self, appid: str, path: str) -> None:
        """Apply the daily and per-minute quotas of `path` for `appid`, or raise 45009 / 45011."""
        day_key = (appid, path, self.clock.day())
        limit = self.daily_limits.get(path)
        if limit is not None and self.daily[day_key] >= limit:
            raise ApiError(45009, "reach max api daily quota limit")
        minute_limit = self.minute_limits.get(path)
        if minute_limit is not None:
            minute_key = (appid, path, self.clock.minute())
            if self.minutely[minute_key] >= minute_limit:
                raise ApiError(45011, "api minute-quota reach limit  mustslower  retry next minute")
            self.minutely[minute_key] += 1
        self.daily[day_key] += 1

    def quota(self, appid: str, path: str) -> dict[str, Any]:
        limit = self.daily_limits.get(path)
        if limit is None:
            raise ApiError(76021, "cgi_path not found, please check")
        used = self.daily[(appid, path, self.clock.day())]
        return {
            "quota": {"daily_limit": limit, "used": used, "remain": max(0, limit - used)},
            "rate_limit": {"call_count": self.minute_limits.get(path, 0), "refresh_second": 60},
        }

    def clear_quota(self, appid: str) -> None:
        account = self.account(appid)
        month = int(self.clock.now() // (30 * 86400))
        current, uses = account.clear_quota_month
        uses = uses if current == month else 0
        if uses >= 10:
            raise ApiError(48006, "forbid to clear quota because of reaching the limit")
        account.clear_quota_month = (month, uses + 1)
        for key in [k for k in self.daily if k[0] == appid]:
            del self.daily[key]

    def set_sensitive_words(self, words: list[str]) -> None:
        self.sensitive_words = words
        self.words_version += 1

    # --- accounts ---------------------------------------------------------------------------

    def put_account(self, **fields: Any) -> Account:
        old = self.accounts.get(fields["appid"])
        account = Account(**fields)
        if old is not None:  # replacing an account's settings keeps its people and templates
            account.templates, account.patients, account.menu = old.templates, old.patients, old.menu
        if not account.one_time_template_id:
            account.one_time_template_id = "OT" + self._new_secret_value(41)
        self.accounts[account.appid] = account
        return account

    # --- tokens -----------------------------------------------------------------------------

    def _issue(self, appid: str) -> Token:
        token = Token(self._new_secret_value(136), appid, self.clock.now() + TOKEN_LIFETIME)
        self.tokens[token.value] = token
        return token

    def _retire(self, value: str, *, grace: float) -> None:
        old = self.tokens.get(value)
        if old is not None and old.revoked_at is None:
            old.revoked_at = self.clock.now() + grace

    def fetch_token(self, appid: str, secret: str) -> Token:
        account = self.account(appid)
        if not secrets.compare_digest(secret.encode(), account.secret.encode()):
            raise ApiError(40125, "invalid appsecret")
        self.count(appid, "/cgi-bin/token")
        if account.current_token:
            self._retire(account.current_token, grace=GRACE)
        token = self._issue(appid)
        account.current_token = token.value
        return token

    def fetch_stable_token(self, appid: str, secret: str, force: bool) -> Token:
        account = self.account(appid)
        if not secrets.compare_digest(secret.encode(), account.secret.encode()):
            raise ApiError(40125, "invalid appsecret")
        self.count(appid, "/cgi-bin/stable_token")
        now = self.clock.now()
        current = self.tokens.get(account.stable_token)
        usable = current is not None and current.revoked_at is None and current.expires_at - now > GRACE
        if force:
            forced_today = self.daily[(appid, "stable_token:force", self.clock.day())]
            if forced_today >= 20:
                raise ApiError(45009, "reach max api daily quota limit")
            if now - account.last_force_refresh >= 30 or current is None:
                self.daily[(appid, "stable_token:force", self.clock.day())] += 1
                account.last_force_refresh = now
                if current is not None:
                    self._retire(current.value, grace=0)  # force mode invalidates the previous token at once
                usable = False
        if not usable:
            if current is not None and current.revoked_at is None:
                self._retire(current.value, grace=min(GRACE, max(0.0, current.expires_at - now)))
            current = self._issue(appid)
            account.stable_token = current.value
        assert current is not None
        return current

    def check_token(self, value: str | None) -> Account:
        if not value:
            raise ApiError(41001, "access_token missing")
        token = self.tokens.get(value)
        if token is None:
            raise ApiError(40014, "invalid access_token")
        now = self.clock.now()
        if token.revoked_at is not None and now >= token.revoked_at:
            raise ApiError(40001, "invalid credential, access_token is invalid or not latest")
        if now >= token.expires_at:
            raise ApiError(42001, "access_token expired")
        return self.accounts[token.appid]

    def invalidate_tokens(self, appid: str) -> int:
        """Fault: every token of the account stops working now (as if another system refreshed)."""
        n = 0
        for token in self.tokens.values():
            if token.appid == appid and token.revoked_at is None:
                token.revoked_at = self.clock.now()
                n += 1
        return n

    # --- templates --------------------------------------------------------------------------

    def add_template(self, account: Account, tid: int, kid_list: list[int], scene_desc: str) -> Template:
        title = TITLES.get(tid)
        if title is None:
            raise ApiError(200014, "template tid not exist")
        by_kid = {k.kid: k for k in title.keywords}
        if not 2 <= len(kid_list) <= 5 or len(set(kid_list)) != len(kid_list) or any(k not in by_kid for k in kid_list):
            raise ApiError(200020, "kidList is invalid")
        if len(scene_desc) > 15:
            raise ApiError(200021, "sceneDesc is invalid")
        if len(account.templates) >= 50:
            raise ApiError(200012, "private template count has reached the limit")
        template_id = self._new_secret_value(43)
        template = Template(template_id, tid, title.title, title.type, tuple(by_kid[k] for k in kid_list), scene_desc)
        account.templates[template_id] = template
        return template

    # --- patients ---------------------------------------------------------------------------

    def new_patients(self, account: Account, count: int, *, following: bool = True) -> list[Patient]:
        created = []
        now = self.clock.now()
        for _ in range(count):
            openid = "o" + self._new_secret_value(27)
            patient = Patient(openid=openid, following=following, followed_at=now if following else 0.0)
            account.patients[openid] = patient
            created.append(patient)
        return created

    def grant(self, patient: Patient, kind: str) -> None:
        now = self.clock.now()
        if kind == "text":
            patient.grants.append(Grant("text", now + 48 * 3600, 5))
        else:
            patient.grants.append(Grant("event", now + 60, 3))

    def use_grant(self, patient: Patient) -> None:
        """Customer-service window (docs/wechat-protocol.md §7): 45015 outside any window, 45047 when the quota
        is used."""
        now = self.clock.now()
        if not patient.following:
            raise ApiError(45015, "response out of time limit or subscription is canceled")
        live = [g for g in patient.grants if g.until > now]
        patient.grants = live
        for g in live:
            if g.remaining > 0:
                g.remaining -= 1
                return
        if live:
            raise ApiError(45047, "out of response count limit")
        raise ApiError(45015, "response out of time limit or subscription is canceled")
