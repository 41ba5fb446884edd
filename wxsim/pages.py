"""What a patient's WeChat shows in a browser: web OAuth, the one-time-subscription confirm page,
and a stand-in for WeChat's JS-SDK script with a working `wx-open-subscribe` element.

Who the patient is: the `wxsim_openid` cookie on the simulator's origin (set by picking a patient on
the authorize page, or by `?sim_openid=` for automation) plays the logged-in WeChat user. With it,
snsapi_base authorization is silent, as in WeChat.
"""

from __future__ import annotations

import html
import json
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from wechat.signature import jssdk_signature
from wxsim.patients import Patients
from wxsim.state import ApiError, World

COOKIE = "wxsim_openid"
FAVICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#07c160"/>'
    b'<circle cx="8" cy="8" r="4" fill="#fff"/></svg>'
)
STATIC = Path(__file__).parent / "static"


def _page(title: str, body: str) -> web.Response:
    return web.Response(
        text=f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>
<link rel="icon" href="data:,">
<style>body{{font:16px -apple-system,"PingFang SC","WenQuanYi Micro Hei",sans-serif;margin:0;background:#ededed}}
header{{background:#f7f7f7;padding:12px;text-align:center;font-weight:600;border-bottom:1px solid #ddd}}
main{{padding:16px}} .muted{{color:#888;font-size:13px}}
.who{{display:block;width:100%;margin:8px 0;padding:12px;border:0;border-radius:8px;background:#fff;
text-align:left;font:inherit}} .ok{{background:#07c160;color:#fff;text-align:center}} .no{{text-align:center}}</style>
</head><body><header>{html.escape(title)} · 微信（模拟）</header><main>{body}</main></body></html>""",
        content_type="text/html",
    )


class Pages:
    def __init__(self, world: World, patients: Patients) -> None:
        self.world = world
        self.patients = patients

    def install(self, app: web.Application) -> None:
        app.router.add_get("/connect/oauth2/authorize", self.authorize)
        app.router.add_get("/mp/subscribemsg", self.subscribemsg)
        app.router.add_post("/mp/subscribemsg", self.subscribemsg_answer)
        app.router.add_get("/_sim/jweixin-1.6.0.js", self.jweixin)
        app.router.add_route("*", "/_sim/jssdk/{action}", self.jssdk)
        app.router.add_get("/favicon.ico", self.favicon)

    async def favicon(self, _: web.Request) -> web.Response:
        """A browser opening the simulator asks for one: a green speech bubble, not a 404 in its console."""
        return web.Response(body=FAVICON, content_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})

    def _openid(self, request: web.Request) -> str:
        return request.query.get("sim_openid") or request.cookies.get(COOKIE, "")

    def _pick(self, request: web.Request, title: str) -> web.Response:
        """No WeChat user yet in this browser: let the tester choose which simulated patient to be."""
        appid = request.query.get("appid", "")
        account = self.world.accounts.get(appid)
        if account is None:
            return _page("错误", "<p>appid 无效（40013）</p>")
        links = []
        for openid in list(account.patients)[:30]:
            query = urlencode({**request.query, "sim_openid": openid})
            links.append(f'<a class="who" href="?{html.escape(query)}">{html.escape(openid)}</a>')
        new = urlencode({**request.query, "sim_openid": "new"})
        links.append(f'<a class="who" href="?{html.escape(new)}">＋ 新访客（未关注）</a>')
        return _page(title, f'<p class="muted">选择以哪位模拟患者的身份继续：</p>{"".join(links)}')

    def _resolve(self, request: web.Request) -> str | None:
        openid = self._openid(request)
        account = self.world.accounts.get(request.query.get("appid", ""))
        if account is None or not openid:
            return None
        if openid == "new":
            return self.world.new_patients(account, 1, following=False)[0].openid
        return openid if openid in account.patients else None

    async def authorize(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        account = self.world.accounts.get(q.get("appid", ""))
        if account is None:
            return _page("错误", "<p>appid 无效（40013）</p>")
        redirect_uri = q.get("redirect_uri", "")
        if q.get("response_type") != "code" or q.get("scope") not in ("snsapi_base", "snsapi_userinfo"):
            return _page("错误", "<p>参数错误：response_type 或 scope（10003）</p>")
        if not urlsplit(redirect_uri).scheme.startswith("http"):
            return _page("错误", "<p>redirect_uri 参数错误（10003）</p>")
        openid = self._resolve(request)
        if openid is None:
            return self._pick(request, "网页授权")
        code = secrets.token_urlsafe(24)
        self.world.oauth_codes[code] = (account.appid, openid, self.world.clock.now() + 300)
        sep = "&" if "?" in redirect_uri else "?"
        target = f"{redirect_uri}{sep}{urlencode({'code': code, 'state': q.get('state', '')})}"
        response = web.HTTPFound(target)
        response.set_cookie(COOKIE, openid, samesite="Lax", httponly=False)
        raise response

    async def subscribemsg(self, request: web.Request) -> web.StreamResponse:
        """`subscribemsg?action=get_confirm`: the older one-time subscription's confirm page."""
        q = request.query
        account = self.world.accounts.get(q.get("appid", ""))
        if account is None or q.get("action") != "get_confirm":
            return _page("错误", "<p>参数错误</p>")
        try:
            scene = int(q.get("scene", ""))
        except ValueError:
            scene = -1
        reserved = q.get("reserved", "")
        if not 0 <= scene <= 10000 or len(reserved.encode()) > 128 or (not reserved.isalnum() and reserved):
            return _page("错误", "<p>scene 或 reserved 参数错误</p>")
        if q.get("template_id") != account.one_time_template_id:
            return _page("错误", "<p>template_id 无效</p>")
        openid = self._resolve(request)
        if openid is None:
            return self._pick(request, "订阅消息")
        fields = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in q.items()
        )
        fields += f'<input type="hidden" name="sim_openid" value="{html.escape(openid)}">'
        body = f"""<p>{html.escape(account.name or account.appid)} 请求向你发送一次订阅消息。</p>
<form method="post">{fields}<button class="who ok" name="answer" value="confirm">允许</button>
<button class="who no" name="answer" value="cancel">取消</button></form>"""
        return _page("订阅消息", body)

    async def subscribemsg_answer(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        q: dict[str, Any] = {k: str(v) for k, v in form.items()}
        account = self.world.account(q.get("appid", ""))
        openid = q.get("sim_openid", "")
        patient = account.patient(openid)
        scene = int(q.get("scene", "0"))
        action = "confirm" if q.get("answer") == "confirm" else "cancel"
        back = {
            "template_id": q.get("template_id", ""),
            "action": action,
            "scene": scene,
            "reserved": q.get("reserved", ""),
        }
        if action == "confirm":
            patient.one_time_auth.add((account.one_time_template_id, scene))  # the same scene again does not accumulate
            back = {"openid": openid, **back}
        redirect = q.get("redirect_url", "")
        sep = "&" if "?" in redirect else "?"
        raise web.HTTPFound(f"{redirect}{sep}{urlencode(back)}")

    async def jweixin(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "jweixin-1.6.0.js", headers={"Content-Type": "application/javascript"})

    async def jssdk(self, request: web.Request) -> web.StreamResponse:
        """Called by the stand-in script from the product's page (cross-origin, with the patient's cookie)."""
        origin = request.headers.get("Origin", "*")
        cors = {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Vary": "Origin",
        }
        if request.method == "OPTIONS":
            return web.Response(status=204, headers=cors)
        data = await request.json()
        action = request.match_info["action"]
        try:
            if action == "config":
                result = await self._verify(data)
            elif action == "templates":
                result = self._templates(data)
            else:
                result = await self._subscribe(request, data)
        except ApiError as error:
            result = {"errMsg": f"{action}:fail", "errCode": error.errcode, "detail": error.errmsg}
        return web.json_response(result, headers=cors)

    async def _verify(self, data: dict[str, Any]) -> dict[str, Any]:
        account = self.world.account(str(data.get("appId", "")))
        ticket, _ = account.jsapi_ticket
        expected = jssdk_signature(
            jsapi_ticket=ticket,
            noncestr=str(data.get("nonceStr", "")),
            timestamp=str(data.get("timestamp", "")),
            url=str(data.get("url", "")),
        )
        if not ticket or not secrets.compare_digest(expected, str(data.get("signature", ""))):
            return {"errMsg": "config:invalid signature"}
        return {"errMsg": "config:ok"}

    def _templates(self, data: dict[str, Any]) -> dict[str, Any]:
        account = self.world.account(str(data.get("appId", "")))
        ids = [str(i) for i in data.get("ids") or []]
        found = {i: account.templates[i] for i in ids if i in account.templates}
        if len(found) != len(ids) or not ids:
            return {"errMsg": "subscribe:fail", "errCode": 20001}
        if len({t.type for t in found.values()}) > 1:
            return {"errMsg": "subscribe:fail", "errCode": 20002}
        if len(ids) > 5:
            return {"errMsg": "subscribe:fail", "errCode": 20003}
        return {
            "errMsg": "ok",
            "name": account.name or account.appid,
            "templates": [{"id": i, "title": t.title} for i, t in found.items()],
        }

    async def _subscribe(self, request: web.Request, data: dict[str, Any]) -> dict[str, Any]:
        account = self.world.account(str(data.get("appId", "")))
        openid = request.cookies.get(COOKIE) or str(data.get("openid", ""))
        if openid not in account.patients:
            raise ApiError(10001, "no WeChat user in this browser (open the page through OAuth first)")
        choices = {
            str(k): ("accept" if v == "accept" else "reject") for k, v in dict(data.get("choices") or {}).items()
        }
        delay = self.world.popup_event_delay
        delivery = await self.patients.popup(account, openid, choices, popup_scene=1, delay=delay)
        details = {tid: f'{{"status":"{status}"}}' for tid, status in choices.items()}
        delivered = delivery.ok if delivery is not None else None
        return {"errMsg": "subscribe:ok", "subscribeDetails": json.dumps(details), "delivered": delivered}
