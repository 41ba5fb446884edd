"""`/_sim/…`: set the world up, make patients act, inspect what happened, inject faults (JSON).

Documented in wxsim/README.md. Errors answer HTTP 400 with {"error": "..."} (this API is ours,
not WeChat's, so it uses ordinary HTTP statuses).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from wxsim.deliver import Deliverer
from wxsim.patients import Patients
from wxsim.state import Account, ApiError, Fault, World

JSON = dict[str, Any]
ACCOUNT_FIELDS = ("appid", "secret", "original_id", "token", "encoding_aes_key", "mode", "callback_url", "name")


def _ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))


def _bad(message: str, status: int = 400) -> web.Response:
    return _ok({"error": message}, status)


def handler(fn: Callable[..., Awaitable[Any]]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json() if request.can_read_body else {}
            result = await fn(request, body if isinstance(body, dict) else {})
        except ApiError as error:
            return _bad(f"{error.errcode} {error.errmsg}")
        except (KeyError, ValueError, TypeError) as error:
            return _bad(f"bad request: {error}")
        return result if isinstance(result, web.StreamResponse) else _ok(result)

    return wrapped


class Control:
    def __init__(self, world: World, patients: Patients, deliverer: Deliverer) -> None:
        self.world = world
        self.patients = patients
        self.deliverer = deliverer

    def install(self, app: web.Application) -> None:
        r = app.router
        r.add_post("/_sim/accounts", handler(self.put_account))
        r.add_get("/_sim/accounts/{appid}", handler(self.get_account))
        r.add_post("/_sim/accounts/{appid}/templates", handler(self.add_template))
        r.add_post("/_sim/accounts/{appid}/patients", handler(self.add_patients))
        r.add_get("/_sim/accounts/{appid}/patients", handler(self.list_patients))
        r.add_get("/_sim/accounts/{appid}/patients/{openid}", handler(self.get_patient))
        r.add_post("/_sim/accounts/{appid}/patients/{openid}/{action}", handler(self.act))
        r.add_get("/_sim/accounts/{appid}/received", handler(self.received))
        r.add_post("/_sim/accounts/{appid}/invalidate-token", handler(self.invalidate_token))
        r.add_get("/_sim/stats", handler(self.stats))
        r.add_get("/_sim/deliveries", handler(self.deliveries))
        r.add_post("/_sim/faults", handler(self.add_fault))
        r.add_delete("/_sim/faults", handler(self.clear_faults))
        r.add_post("/_sim/sensitive-words", handler(self.sensitive_words))
        r.add_post("/_sim/popup-event-delay", handler(self.popup_event_delay))
        r.add_post("/_sim/quotas", handler(self.quotas))
        r.add_post("/_sim/clock", handler(self.clock))
        r.add_post("/_sim/reset", handler(self.reset))
        r.add_post("/_sim/drain", handler(self.drain))

    def _account(self, request: web.Request) -> Account:
        return self.world.account(request.match_info["appid"])

    async def put_account(self, request: web.Request, body: JSON) -> Any:
        missing = [f for f in ("appid", "secret", "original_id", "token") if not body.get(f)]
        if missing:
            return _bad(f"missing: {', '.join(missing)}")
        if body.get("mode", "plaintext") not in ("plaintext", "compatible", "safe"):
            return _bad("mode must be plaintext, compatible or safe")
        if body.get("mode", "plaintext") != "plaintext" and len(body.get("encoding_aes_key", "")) != 43:
            return _bad("compatible and safe mode need a 43-character encoding_aes_key")
        account = self.world.put_account(**{k: body[k] for k in ACCOUNT_FIELDS if k in body})
        return self._account_json(account)

    def _account_json(self, account: Account) -> JSON:
        return {
            "appid": account.appid,
            "original_id": account.original_id,
            "mode": account.mode,
            "callback_url": account.callback_url,
            "name": account.name,
            "templates": [t.as_json() | {"tid": t.tid} for t in account.templates.values()],
            "patients": len(account.patients),
            "following": sum(p.following for p in account.patients.values()),
            "one_time_template_id": account.one_time_template_id,
            "menu": account.menu.buttons if account.menu else None,
        }

    async def get_account(self, request: web.Request, body: JSON) -> Any:
        return self._account_json(self._account(request))

    async def add_template(self, request: web.Request, body: JSON) -> Any:
        account = self._account(request)
        template = self.world.add_template(
            account, int(body["tid"]), [int(k) for k in body["kid_list"]], str(body.get("scene_desc", ""))
        )
        return template.as_json() | {"tid": template.tid}

    async def add_patients(self, request: web.Request, body: JSON) -> Any:
        account = self._account(request)
        count = int(body.get("count", 1))
        if not 1 <= count <= 1_000_000:
            return _bad("count must be 1..1000000")
        created = self.world.new_patients(account, count, following=bool(body.get("following", True)))
        for template_id, credits in dict(body.get("credits") or {}).items():  # seed subscriptions without events
            if template_id not in account.templates:
                return _bad(f"unknown template {template_id}")
            for patient in created:
                if account.templates[template_id].type == 2:
                    patient.credits[template_id] += int(credits)
                else:
                    patient.long_term[template_id] = bool(credits)
        scenes = [int(s) for s in body.get("one_time_scenes") or []]  # the older one-time message, authorised
        for patient in created:
            patient.one_time_auth.update((account.one_time_template_id, scene) for scene in scenes)
        return {"openids": [p.openid for p in created]}

    async def list_patients(self, request: web.Request, body: JSON) -> Any:
        account = self._account(request)
        offset, limit = int(request.query.get("offset", "0")), int(request.query.get("limit", "1000"))
        patients = list(account.patients.values())[offset : offset + limit]
        return {
            "total": len(account.patients),
            "patients": [{"openid": p.openid, "following": p.following} for p in patients],
        }

    async def get_patient(self, request: web.Request, body: JSON) -> Any:
        return self._account(request).patient(request.match_info["openid"]).as_json()

    async def act(self, request: web.Request, body: JSON) -> Any:
        """Make a patient do something; answers with the delivery of the resulting push."""
        account = self._account(request)
        openid, action = request.match_info["openid"], request.match_info["action"]
        p = self.patients
        if action == "follow":
            patient, delivery = await p.follow(account, None if openid == "new" else openid, body.get("scene"))
            return {"openid": patient.openid, "delivery": delivery.as_json()}
        if action == "open":
            msgid = body.get("msgid") if isinstance(body, dict) else None
            return await p.open_notification(account, openid, int(msgid) if msgid is not None else None)
        if action == "popup":
            choices = {str(k): str(v) for k, v in dict(body["choices"]).items()}
            at = float(body["at"]) if body.get("at") is not None else None
            answered = await p.popup(account, openid, choices, int(body.get("popup_scene", 2)), at)
            assert answered is not None  # pushed at once (a delay is only for the page's button)
            delivery = answered
        elif action == "settings-reject":
            delivery = await p.settings_reject(account, openid, [str(t) for t in body["template_ids"]])
        elif action == "unfollow":
            delivery = await p.unfollow(account, openid)
        elif action == "click":
            delivery = await p.click(account, openid, str(body["key"]))
        elif action == "view":
            delivery = await p.view(account, openid, str(body["url"]))
        elif action == "text":
            delivery = await p.text(account, openid, str(body["content"]))
        elif action == "scan":
            delivery = await p.scan(account, openid, str(body["scene"]))
        else:
            return _bad(f"unknown action {action}", 404)
        return {"openid": openid, "delivery": delivery.as_json()}

    async def received(self, request: web.Request, body: JSON) -> Any:
        """Per patient: how many notifications of a template (or of any) they received — proves exactly-once."""
        account = self._account(request)
        template_id = request.query.get("template_id")
        kind = request.query.get("kind", "subscribe")
        counts: Counter[str] = Counter()
        for patient in account.patients.values():
            for item in patient.inbox:
                if item.kind == kind and (template_id is None or item.template_id == template_id):
                    counts[patient.openid] += 1
        return {
            "total": sum(counts.values()),
            "patients": len(counts),
            "more_than_once": sorted(o for o, n in counts.items() if n > 1),
            "counts": dict(counts) if request.query.get("detail") else None,
        }

    async def invalidate_token(self, request: web.Request, body: JSON) -> Any:
        return {"invalidated": self.world.invalidate_tokens(self._account(request).appid)}

    async def stats(self, request: web.Request, body: JSON) -> Any:
        by_path: dict[str, dict[str, int]] = {}
        for (path, code), n in self.world.calls.items():
            by_path.setdefault(path, {})[str(code)] = n
        return {"calls": by_path, "deliveries": dict(self.deliverer.stats)}

    async def deliveries(self, request: web.Request, body: JSON) -> Any:
        limit = int(request.query.get("limit", "100"))
        return {"deliveries": [d.as_json() for d in list(self.deliverer.log)[-limit:]]}

    async def add_fault(self, request: web.Request, body: JSON) -> Any:
        fault = Fault(
            path=str(body["path"]),
            rate=float(body.get("rate", 1.0)),
            errcode=int(body["errcode"]) if body.get("errcode") is not None else None,
            errmsg=str(body.get("errmsg", "system error")),
            http_status=int(body["http_status"]) if body.get("http_status") else None,
            timeout=bool(body.get("timeout", False)),
            latency_ms=body.get("latency_ms"),
            remaining=int(body["count"]) if body.get("count") is not None else None,
        )
        if not 0 <= fault.rate <= 1:
            return _bad("rate must be between 0 and 1")
        self.world.faults[fault.path].append(fault)
        return {"faults": {p: len(f) for p, f in self.world.faults.items() if f}}

    async def clear_faults(self, request: web.Request, body: JSON) -> Any:
        path = request.query.get("path")
        if path:
            self.world.faults.pop(path, None)
        else:
            self.world.faults.clear()
        return {"faults": {}}

    async def sensitive_words(self, request: web.Request, body: JSON) -> Any:
        self.world.set_sensitive_words([str(w) for w in body["words"]])
        return {"words": self.world.sensitive_words}

    async def popup_event_delay(self, request: web.Request, body: JSON) -> Any:
        seconds = float(body.get("seconds", 0))
        if not 0 <= seconds <= 60:
            return _bad("seconds must be 0..60")
        self.world.popup_event_delay = seconds
        return {"seconds": seconds}

    async def quotas(self, request: web.Request, body: JSON) -> Any:
        for path, limit in dict(body.get("daily") or {}).items():
            self.world.daily_limits[path] = int(limit)
        for path, limit in dict(body.get("per_minute") or {}).items():
            self.world.minute_limits[path] = int(limit)
        return {"daily": self.world.daily_limits, "per_minute": self.world.minute_limits}

    async def clock(self, request: web.Request, body: JSON) -> Any:
        self.world.clock.offset += float(body.get("advance", 0))
        return {"now": self.world.clock.now(), "offset": self.world.clock.offset}

    async def reset(self, request: web.Request, body: JSON) -> Any:
        fresh = World()
        self.world.__dict__.update(fresh.__dict__)
        self.deliverer.log.clear()
        self.deliverer.stats.clear()
        return {"reset": True}

    async def drain(self, request: web.Request, body: JSON) -> Any:
        """Wait until background pushes (subscribe_msg_sent_event) are delivered."""
        await self.deliverer.drain()
        return {"drained": True}
