"""WeChat's server API on WeChat's own paths: always HTTP 200 with errcode/errmsg (+ " rid: …").

One dispatcher (`Api.handle`) does what every WeChat call shares — method check, fault injection,
token check, JSON parsing, counting by (path, errcode) — so each endpoint below is only its own rules.
bizsend is the hot path of every benchmark: keep it free of needless work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from wechat.keywords import check_one_time, check_value
from wxsim.library import CATEGORIES, TITLES
from wxsim.state import TOKEN_LIFETIME, Account, ApiError, Menu, Patient, Received, World

JSON = dict[str, Any]
Handler = Callable[[Account | None, web.Request, JSON], JSON]
BIZSEND = "/cgi-bin/message/subscribe/bizsend"
MENU_TYPES = {
    "click",
    "view",
    "miniprogram",
    "scancode_push",
    "scancode_waitmsg",
    "pic_sysphoto",
    "pic_photo_or_album",
    "pic_weixin",
    "location_select",
    "media_id",
    "view_limited",
    "article_id",
    "article_view_limited",
}


_JSON_HEADERS = CIMultiDictProxy(CIMultiDict({"Content-Type": "application/json; encoding=utf-8"}))


def _json(data: JSON) -> web.Response:
    # WeChat's own Content-Type, and raw UTF-8 (never \\uXXXX) like WeChat.
    return web.Response(body=orjson.dumps(data), headers=_JSON_HEADERS)


def _access_token(raw_path: str) -> str | None:
    """access_token from the raw query string: cheaper than building request.query on the hot path."""
    _, _, query = raw_path.partition("?")
    for part in query.split("&"):
        if part.startswith("access_token="):
            return unquote(part[13:])
    return None


class Api:
    def __init__(self, world: World, on_sent: Callable[[Account, Patient, str, int], None]) -> None:
        self.world = world
        self.on_sent = on_sent  # schedules the subscribe_msg_sent_event push
        self._verdicts: dict[tuple[Any, ...], tuple[int, str] | None] = {}
        R = self._route
        self.routes: dict[str, tuple[str, bool, Handler]] = {
            "/cgi-bin/token": R("GET", False, self.token),
            "/cgi-bin/stable_token": R("POST", False, self.stable_token),
            "/cgi-bin/clear_quota/v2": R("POST", False, self.clear_quota_v2),
            "/sns/oauth2/access_token": R("GET", False, self.oauth_access_token),
            "/cgi-bin/clear_quota": R("POST", True, self.clear_quota),
            "/cgi-bin/openapi/quota/get": R("POST", True, self.quota_get),
            "/wxaapi/newtmpl/getcategory": R("GET", True, self.get_category),
            "/wxaapi/newtmpl/getpubtemplatetitles": R("GET", True, self.get_pub_titles),
            "/wxaapi/newtmpl/getpubtemplatekeywords": R("GET", True, self.get_pub_keywords),
            "/wxaapi/newtmpl/addtemplate": R("POST", True, self.add_template),
            "/wxaapi/newtmpl/deltemplate": R("POST", True, self.del_template),
            "/wxaapi/newtmpl/gettemplate": R("GET", True, self.get_templates),
            BIZSEND: R("POST", True, self.bizsend),
            "/cgi-bin/message/template/subscribe": R("POST", True, self.template_subscribe),
            "/cgi-bin/message/custom/send": R("POST", True, self.custom_send),
            "/cgi-bin/menu/create": R("POST", True, self.menu_create),
            "/cgi-bin/menu/get": R("GET", True, self.menu_get),
            "/cgi-bin/menu/delete": R("GET", True, self.menu_delete),
            "/cgi-bin/user/get": R("GET", True, self.user_get),
            "/cgi-bin/user/info": R("GET", True, self.user_info),
            "/cgi-bin/user/info/batchget": R("POST", True, self.user_info_batch),
            "/cgi-bin/ticket/getticket": R("GET", True, self.get_ticket),
        }

    @staticmethod
    def _route(method: str, needs_token: bool, handler: Handler) -> tuple[str, bool, Handler]:
        return method, needs_token, handler

    def install(self, app: web.Application) -> None:
        for path in self.routes:
            app.router.add_route("*", path, self.handle)

    # --- the shared part of every call --------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        world = self.world
        path = request.raw_path.partition("?")[0]
        method, needs_token, handler = self.routes[path]
        in_flight: tuple[str, str] | None = None
        try:
            if request.method != method:
                raise ApiError(43002 if method == "POST" else 43001, f"require {method} method")
            body: JSON = {}
            if method == "POST":
                raw = await request.read()
                try:
                    body = orjson.loads(raw) if raw else {}
                except orjson.JSONDecodeError:
                    raise ApiError(47001, "data format error") from None
                if not isinstance(body, dict):
                    raise ApiError(47001, "data format error")
            faults = (world.faults.get(path) or world.faults.get("*")) if world.faults else None
            account = world.check_token(_access_token(request.raw_path)) if needs_token else None
            if path == BIZSEND and account is not None:
                in_flight = (account.appid, str(body.get("touser", "")))
                if in_flight in world.in_flight:
                    in_flight = None
                    raise ApiError(43108, "Cannot make concurrent calls to the same OpenID, please try again")
                world.in_flight.add(in_flight)
            if faults:
                response = await self._fault(request, path, faults)
                if response is not None:
                    return response
            if account is not None:
                world.count(account.appid, path)
            result = handler(account, request, body)  # handlers are synchronous: the world has no locks
            world.calls[(path, 0)] += 1
            return _json(result)
        except ApiError as error:
            world.calls[(path, error.errcode)] += 1
            return _json({"errcode": error.errcode, "errmsg": f"{error.errmsg} rid: {world.rid()}"})
        finally:
            if in_flight is not None:
                world.in_flight.discard(in_flight)

    async def _fault(self, request: web.Request, path: str, faults: list[Any]) -> web.StreamResponse | None:
        world = self.world
        for fault in list(faults):
            if fault.remaining is not None and fault.remaining <= 0:
                faults.remove(fault)
                continue
            if fault.rate < 1.0 and world.rng.random() >= fault.rate:
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
            delay = fault.delay(world.rng)
            if delay:
                await asyncio.sleep(delay)
            if fault.timeout:  # never answer; stop waiting once the caller has given up
                for _ in range(36000):
                    if request.transport is None or request.transport.is_closing():
                        break
                    await asyncio.sleep(0.1)
                raise ApiError(-1, "system error")
            if fault.http_status:
                world.calls[(path, -fault.http_status)] += 1
                return web.Response(status=fault.http_status, text="<html><body>Bad Gateway</body></html>")
            if fault.errcode is not None:
                raise ApiError(fault.errcode, fault.errmsg)
        return None

    # --- tokens, quota, oauth (no access_token) ----------------------------------------------

    def token(self, _: Account | None, request: web.Request, body: JSON) -> JSON:
        q = request.query
        if q.get("grant_type") != "client_credential":
            raise ApiError(40002, "invalid grant_type")
        token = self.world.fetch_token(q.get("appid", ""), q.get("secret", ""))
        # Every call issues a new token: WeChat answers its whole lifetime (truncating the time left answered
        # 7199, a millisecond having passed since it was issued).
        return {"access_token": token.value, "expires_in": TOKEN_LIFETIME}

    def stable_token(self, _: Account | None, request: web.Request, body: JSON) -> JSON:
        if body.get("grant_type") != "client_credential":
            raise ApiError(40002, "invalid grant_type")
        token = self.world.fetch_stable_token(
            str(body.get("appid", "")), str(body.get("secret", "")), bool(body.get("force_refresh"))
        )
        return {"access_token": token.value, "expires_in": int(token.expires_at - self.world.clock.now())}

    def clear_quota_v2(self, _: Account | None, request: web.Request, body: JSON) -> JSON:
        account = self.world.account(str(body.get("appid", "")))
        if body.get("appsecret") != account.secret:
            raise ApiError(40125, "invalid appsecret")
        self.world.clear_quota(account.appid)
        return {"errcode": 0, "errmsg": "ok"}

    def clear_quota(self, account: Account | None, request: web.Request, body: JSON) -> JSON:
        assert account is not None
        if body.get("appid") != account.appid:
            raise ApiError(40013, "invalid appid")
        self.world.clear_quota(account.appid)
        return {"errcode": 0, "errmsg": "ok"}

    def quota_get(self, account: Account | None, request: web.Request, body: JSON) -> JSON:
        assert account is not None
        path = str(body.get("cgi_path", ""))
        if not path.startswith("/"):
            raise ApiError(76003, "cgi_path format error")
        return {"errcode": 0, "errmsg": "ok", **self.world.quota(account.appid, path)}

    def oauth_access_token(self, _: Account | None, request: web.Request, body: JSON) -> JSON:
        q = request.query
        account = self.world.account(q.get("appid", ""))
        if q.get("secret") != account.secret:
            raise ApiError(40125, "invalid appsecret")
        if q.get("grant_type") != "authorization_code":
            raise ApiError(40002, "invalid grant_type")
        code = q.get("code", "")
        if code in self.world.used_codes:
            raise ApiError(40163, "code been used")
        entry = self.world.oauth_codes.pop(code, None)
        if entry is None or entry[0] != account.appid or entry[2] < self.world.clock.now():
            raise ApiError(40029, "invalid code")
        self.world.used_codes.add(code)
        return {
            "access_token": self.world.rid().replace("-", "") * 3,
            "expires_in": 7200,
            "refresh_token": self.world.rid().replace("-", "") * 3,
            "openid": entry[1],
            "scope": "snsapi_base",
        }

    # --- templates ----------------------------------------------------------------------------

    def get_category(self, account: Account | None, request: web.Request, body: JSON) -> JSON:
        return {"errcode": 0, "errmsg": "ok", "data": CATEGORIES}

    def get_pub_titles(self, account: Account | None, request: web.Request, body: JSON) -> JSON:
        q = request.query
        if not q.get("ids"):
            raise ApiError(200018, "ids is missing")
        try:
            ids = {int(i) for i in q["ids"].split(",")}
            start, limit = int(q.get("start", "0")), int(q.get("limit", "30"))
        except ValueError:
            raise ApiError(200019, "ids is invalid") from None
        if start < 0:
            raise ApiError(200016, "start is invalid")
        if not 1 <= limit <= 30:
            raise ApiError(200017, "limit is invalid")
        titles = [t for t in TITLES.values() if t.category_id in ids]
        page = titles[start : start + limit]
        data = [{"tid": t.tid, "title": t.title, "type": t.type, "categoryId": str(t.category_id)} for t in page]
        return {"errcode": 0, "errmsg": "ok", "count": len(titles), "data": data}

    def get_pub_keywords(self, account: Account | None, request: web.Request, body: JSON) -> JSON:
        try:
            title = TITLES.get(int(request.query.get("tid", "")))
        except ValueError:
            title = None
        if title is None:
            raise ApiError(200014, "template tid not exist")
        data = [{"kid": k.kid, "name": k.name, "example": k.example, "rule": k.rule} for k in title.keywords]
        return {"errcode": 0, "errmsg": "ok", "count": len(data), "data": data}

    def add_template(self, account: Account | None, request: web.Request, body: JSON) -> JSON:
        assert account is not None
        try:
            tid = int(body.get("tid", ""))
            kids = [int(k) for k in body.get("kidList") or []]
        except (TypeError, ValueError):
            raise ApiError(200020, "kidList is invalid") from None
        template = self.world.add_template(account, tid, kids, str(body.get("sceneDesc", "")))
        return {"errcode": 0, "errmsg": "ok", "priTmplId": template.pri_tmpl_id}

    def del_template(self, account: Account | None, request: web.Request, body: JSON) -> JSON:
        assert account is not None
        if account.templates.pop(str(body.get("priTmplId", "")), None) is None:
            raise ApiError(40037, "invalid template_id")
        return {"errcode": 0, "errmsg": "ok"}

    def get_templates(self, account: Account | None, request: web.Request, body: JSON) -> JSON:
        assert account is not None
        return {"errcode": 0, "errmsg": "ok", "data": [t.as_json() for t in account.templates.values()]}

    # --- sending ------------------------------------------------------------------------------

    def bizsend(self, account: Account | None, request: web.Request, body: JSON) -> JSON:
        assert account is not None
        template = account.templates.get(body.get("template_id") or "")
        if template is None:
            raise ApiError(40037, "invalid template_id")
        patient = account.patients.get(body.get("touser") or "")
        if patient is None:
            raise ApiError(40003, "invalid openid")
        data = body.get("data")
        if not isinstance(data, dict) or not data:
            raise ApiError(47003, "argument invalid! data is empty")
        values = {k: (v.get("value") if isinstance(v, dict) else None) for k, v in data.items()}
        verdict = self._content_verdict(template.pri_tmpl_id, template.keys, values)
        if verdict is not None:
            raise ApiError(*verdict)
        if template.type == 2:
            if patient.credits[template.pri_tmpl_id] <= 0:
                raise ApiError(43101, "user refuse to accept the msg")
            patient.credits[template.pri_tmpl_id] -= 1
        elif not patient.long_term.get(template.pri_tmpl_id):
            raise ApiError(43101, "user refuse to accept the msg")
        msgid = self.world.next_msgid()
        content: JSON = {"data": values}
        if "page" in body or "miniprogram" in body:
            content |= {"page": body.get("page"), "miniprogram": body.get("miniprogram")}
        patient.inbox.append(Received("subscribe", self.world.clock.now(), template.pri_tmpl_id, msgid, content))
        self.on_sent(account, patient, template.pri_tmpl_id, msgid)
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    def _content_verdict(
        self, template_id: str, keys: tuple[str, ...], values: dict[str, Any]
    ) -> tuple[int, str] | None:
        """47003 / 45168 or None for these values. A campaign sends the same content to everyone, so the
        verdict is remembered per (template, values, sensitive words)."""
        try:
            cache_key = (template_id, tuple(values.get(k) for k in keys), self.world.words_version)
            return self._verdicts[cache_key]
        except KeyError:
            pass
        except TypeError:  # unhashable values (a list or object where a string belongs): no caching
            cache_key = None
        verdict: tuple[int, str] | None = None
        for key in keys:  # WeChat names the first bad field; fields it does not know are ignored
            problem = check_value(key, values.get(key))
            if problem is not None:
                verdict = (47003, problem.errmsg())
                break
        words = self.world.sensitive_words
        if verdict is None and words:
            text = "".join(str(v) for v in values.values())
            if any(w in text for w in words):
                verdict = (45168, "keyword in blacklist")
        if cache_key is not None:
            if len(self._verdicts) > 10_000:
                self._verdicts.clear()
            self._verdicts[cache_key] = verdict
        return verdict

    def template_subscribe(self, account: Account | None, request: web.Request, body: JSON) -> JSON:
        assert account is not None
        if body.get("template_id") != account.one_time_template_id:
            raise ApiError(40037, "invalid template_id")
        patient = account.patients.get(body.get("touser") or "")
        if patient is None:
            raise ApiError(40003, "invalid openid")
        title = body.get("title", "")
        content = ((body.get("data") or {}).get("content") or {}).get("value", "")
        if problems := check_one_time(title, content):
            field = "title" if problems[0].key == "title" else "data.content.value"  # WeChat names the first
            raise ApiError(47003, f"argument invalid! {field} invalid")
        if any(w in f"{title}{content}" for w in self.world.sensitive_words):
            raise ApiError(45168, "keyword in blacklist")
        try:
            scene = int(body.get("scene", -1))
        except (TypeError, ValueError):
            raise ApiError(47003, "argument invalid! scene invalid") from None
        key = (account.one_time_template_id, scene)
        if key not in patient.one_time_auth:
            raise ApiError(43101, "user refuse to accept the msg")
        patient.one_time_auth.discard(key)
        shown: JSON = {"title": title, "content": content}
        if "url" in body or "miniprogram" in body:
            shown |= {"url": body.get("url"), "miniprogram": body.get("miniprogram")}
        received = Received("one_time", self.world.clock.now(), account.one_time_template_id, 0, shown)
        patient.inbox.append(received)
        return {"errcode": 0, "errmsg": "ok"}

    def custom_send(self, account: Account | None, request: web.Request, body: JSON) -> JSON:
        assert account is not None
        patient = account.patient(str(body.get("touser", "")))
        msgtype = body.get("msgtype")
        payload = body.get(msgtype) if isinstance(msgtype, str) else None
        if msgtype not in {
            "text",
            "news",
            "mpnews",
            "mpnewsarticle",
            "image",
            "voice",
            "video",
            "music",
            "miniprogrampage",
            "link",
            "msgmenu",
            "wxcard",
        }:
            raise ApiError(40008, "invalid message type")
        if not isinstance(payload, dict):
            raise ApiError(47001, "data format error")
        if msgtype == "text" and not str(payload.get("content", "")).strip():
            raise ApiError(44003, "empty content")
        if msgtype == "news":
            articles = payload.get("articles") or []
            if not articles:
                raise ApiError(44003, "empty news data")
            if len(articles) > 1:
                raise ApiError(45008, "article size out of limit")
        self.world.use_grant(patient)
        patient.inbox.append(Received("custom", self.world.clock.now(), content={"msgtype": msgtype, msgtype: payload}))
        return {"errcode": 0, "errmsg": "ok"}

    # --- menus --------------------------------------------------------------------------------

    @staticmethod
    def _check_button(button: Any, sub: bool) -> None:
        codes = (40024, 40025, 40026, 40027) if sub else (40017, 40018, 40019, 40020)
        if not isinstance(button, dict):
            raise ApiError(codes[0], "invalid sub button type" if sub else "invalid button type")
        name = str(button.get("name", ""))
        if not name or len(name.encode()) > (60 if sub else 16):
            raise ApiError(codes[1], "invalid sub button name size" if sub else "invalid button name size")
        kind = button.get("type")
        if kind not in MENU_TYPES:
            raise ApiError(codes[0], "invalid sub button type" if sub else "invalid button type")
        needs_key = kind not in {
            "view",
            "miniprogram",
            "media_id",
            "view_limited",
            "article_id",
            "article_view_limited",
        }
        key = str(button.get("key", ""))
        if needs_key and (not key or len(key.encode()) > 128):
            raise ApiError(codes[2], "invalid sub button key size" if sub else "invalid button key size")
        if kind in {"view", "miniprogram"}:
            url = str(button.get("url", ""))
            if not url or len(url.encode()) > 1024:
                raise ApiError(codes[3], "invalid sub button url size" if sub else "invalid button url size")
            if not url.startswith(("http://", "https://")):
                raise ApiError(40055, "invalid button url domain")
        if kind in {"media_id", "view_limited"} and not button.get("media_id"):
            raise ApiError(40007, "invalid media_id")
        if kind in {"article_id", "article_view_limited"} and not button.get("article_id"):
            raise ApiError(40007, "invalid article_id")
        if kind == "miniprogram" and not (button.get("appid") and button.get("pagepath")):
            raise ApiError(
                40166 if not button.get("appid") else 40165,
                "invalid weapp appid" if not button.get("appid") else "invalid weapp pagepath",
            )

    def menu_create(self, account: Account | None, request: web.Request, body: JSON) -> JSON:
        assert account is not None
        buttons = body.get("button")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            raise ApiError(40016, "invalid button size")
        for button in buttons:
            subs = button.get("sub_button") if isinstance(button, dict) else None
            if subs:  # a parent: only a name, and 1–5 children
                if not isinstance(subs, list) or len(subs) > 5:
                    raise ApiError(40023, "invalid sub button size")
                name = str(button.get("name", ""))
                if not name or len(name.encode()) > 16:
                    raise ApiError(40018, "invalid button name size")
                for sub in subs:
                    self._check_button(sub, True)
            else:
                self._check_button(button, False)
        menu_id = self.world.rng.randrange(10**8, 10**9)
        account.menu = Menu(buttons, menu_id)
        return {"errcode": 0, "errmsg": "ok"}

    def menu_get(self, account: Account | None, request: web.Request, body: JSON) -> JSON:
        assert account is not None
        if account.menu is None:
            raise ApiError(46003, "menu no exist")
        return {"menu": {"button": account.menu.buttons, "menuid": account.menu.menu_id}}

    def menu_delete(self, account: Account | None, request: web.Request, body: JSON) -> JSON:
        assert account is not None
        account.menu = None
        return {"errcode": 0, "errmsg": "ok"}

    # --- users, JS-SDK ------------------------------------------------------------------------

    def user_get(self, account: Account | None, request: web.Request, body: JSON) -> JSON:
        assert account is not None
        following = [o for o, p in account.patients.items() if p.following]
        start = request.query.get("next_openid", "")
        index = 0
        if start:
            try:
                index = following.index(start) + 1
            except ValueError:
                raise ApiError(40003, "invalid openid") from None
        page = following[index : index + 10000]
        if not page:
            return {"total": len(following), "count": 0, "next_openid": ""}
        return {"total": len(following), "count": len(page), "data": {"openid": page}, "next_openid": page[-1]}

    def user_info(self, account: Account | None, request: web.Request, body: JSON) -> JSON:
        assert account is not None
        return self._user(account.patient(request.query.get("openid", "")))

    def user_info_batch(self, account: Account | None, request: web.Request, body: JSON) -> JSON:
        """Up to 100 users per call; one unknown openid fails the whole call, as WeChat does."""
        assert account is not None
        users = body.get("user_list") if isinstance(body, dict) else None
        if not isinstance(users, list) or not all(isinstance(u, dict) and "openid" in u for u in users):
            raise ApiError(47001, "data format error")
        if not 0 < len(users) <= 100:
            raise ApiError(40032, "invalid openid list size")
        return {"user_info_list": [self._user(account.patient(str(u["openid"]))) for u in users]}

    @staticmethod
    def _user(patient: Patient) -> JSON:
        if not patient.following:
            return {"subscribe": 0, "openid": patient.openid}
        return {
            "subscribe": 1,
            "openid": patient.openid,
            "language": "zh_CN",
            "subscribe_time": int(patient.followed_at),
            "remark": "",
            "groupid": 0,
            "tagid_list": [],
            "subscribe_scene": "ADD_SCENE_QR_CODE" if patient.qr_scene else "ADD_SCENE_SEARCH",
            "qr_scene": 0,
            "qr_scene_str": patient.qr_scene,
        }

    def get_ticket(self, account: Account | None, request: web.Request, body: JSON) -> JSON:
        assert account is not None
        if request.query.get("type") != "jsapi":
            raise ApiError(40097, "invalid args")
        value, expires_at = account.jsapi_ticket
        now = self.world.clock.now()
        if not value or expires_at - now < 300:
            value, expires_at = self.world.rid().replace("-", "") * 4, now + 7200
            account.jsapi_ticket = (value, expires_at)
        return {"errcode": 0, "errmsg": "ok", "ticket": value, "expires_in": int(expires_at - now)}
