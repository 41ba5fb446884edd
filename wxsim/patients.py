"""What simulated patients do, each ending in the push WeChat would send the account."""

from __future__ import annotations

from typing import Any

from wechat.messages import (
    FollowEvent,
    MenuClickEvent,
    MenuViewEvent,
    Message,
    ScanEvent,
    SentResult,
    SubscribeChangeEvent,
    SubscribeChoice,
    SubscribePopupEvent,
    SubscribeSentEvent,
    TextMessage,
    UnfollowEvent,
)
from wxsim.deliver import Deliverer, Delivery
from wxsim.state import Account, ApiError, Patient, World


class Patients:
    def __init__(self, world: World, deliverer: Deliverer) -> None:
        self.world = world
        self.deliverer = deliverer

    def _base(self, account: Account, openid: str) -> dict[str, Any]:
        return {
            "account_original_id": account.original_id,
            "openid": openid,
            "create_time": int(self.world.clock.now()),
        }

    async def _push(self, account: Account, message: Message) -> Delivery:
        return await self.deliverer.deliver(account, message)

    def _get(self, account: Account, openid: str) -> Patient:
        return account.patient(openid)

    async def follow(
        self, account: Account, openid: str | None = None, scene: str | None = None
    ) -> tuple[Patient, Delivery]:
        patient = account.patients.get(openid) if openid else None
        if patient is None and openid:
            patient = account.patients[openid] = Patient(openid=openid, following=False)
        elif patient is None:
            patient = self.world.new_patients(account, 1, following=False)[0]
        patient.following, patient.followed_at = True, self.world.clock.now()
        if scene:
            patient.qr_scene = scene
        self.world.grant(patient, "event")
        event = FollowEvent(**self._base(account, patient.openid), msg_type="event", scene=scene)
        return patient, await self._push(account, event)

    async def unfollow(self, account: Account, openid: str) -> Delivery:
        patient = self._get(account, openid)
        patient.following = False
        patient.grants.clear()
        return await self._push(account, UnfollowEvent(**self._base(account, openid), msg_type="event"))

    async def scan(self, account: Account, openid: str, scene: str) -> Delivery:
        patient = self._get(account, openid)
        if not patient.following:
            return (await self.follow(account, openid, scene))[1]
        self.world.grant(patient, "event")
        return await self._push(account, ScanEvent(**self._base(account, openid), msg_type="event", scene=scene))

    async def popup(
        self,
        account: Account,
        openid: str,
        choices: dict[str, str],
        popup_scene: int,
        at: float | None = None,
        delay: float = 0.0,
    ) -> Delivery | None:
        """The patient answers a subscribe popup (1 = H5 page, 2 = article) with accept/reject per template.
        `at` (seconds, not in the future) dates the answer in the past: a demo's or a test's history, pushed
        with that CreateTime as WeChat would have pushed it then."""
        now = self.world.clock.now()
        if at is not None and not 0 < at <= now:
            raise ApiError(47001, "data format error")
        patient = self._get(account, openid)
        templates = []
        for template_id in choices:
            template = account.templates.get(template_id)
            if template is None:
                raise ApiError(20001, "no template data")
            templates.append(template)
        if len({t.type for t in templates}) > 1:
            raise ApiError(20002, "one-time and long-term templates cannot be mixed")
        if len(templates) > 5 or not templates:
            raise ApiError(20003, "too many templates")
        for template in templates:
            status = choices[template.pri_tmpl_id]
            if status == "accept":
                if template.type == 2:
                    patient.credits[template.pri_tmpl_id] += 1
                else:
                    patient.long_term[template.pri_tmpl_id] = True
            elif status == "reject" and template.type == 3:
                patient.long_term[template.pri_tmpl_id] = False
        event = SubscribePopupEvent(
            **(self._base(account, openid) | ({"create_time": int(at)} if at is not None else {})),
            msg_type="event",
            choices=tuple(SubscribeChoice(tid, status, popup_scene) for tid, status in choices.items()),
        )
        if delay > 0:  # answered now, pushed later (None: nothing delivered yet)
            self.deliverer.later(account, event, delay)
            return None
        return await self._push(account, event)

    async def settings_reject(self, account: Account, openid: str, template_ids: list[str]) -> Delivery:
        """The patient switches templates off in WeChat's settings; only this rejection is pushed."""
        patient = self._get(account, openid)
        for template_id in template_ids:
            if template_id not in account.templates:
                raise ApiError(20001, "no template data")
            patient.credits[template_id] = 0
            patient.long_term[template_id] = False
        event = SubscribeChangeEvent(
            **self._base(account, openid),
            msg_type="event",
            choices=tuple(SubscribeChoice(tid, "reject") for tid in template_ids),
        )
        return await self._push(account, event)

    async def open_notification(self, account: Account, openid: str, msgid: int | None = None) -> dict[str, Any]:
        """The patient taps a notification's 查看详情 (the newest with a web page, or the one with `msgid`): its
        page is opened as WeChat's browser would, without following a redirect, so the caller sees where to."""
        patient = self._get(account, openid)
        shown = [r for r in patient.inbox if r.content.get("page") and (msgid is None or r.msgid == msgid)]
        if not shown:
            raise ApiError(40003, "no notification with a web page")
        page = str(shown[-1].content["page"])
        async with self.deliverer._client().get(page, allow_redirects=False) as response:
            await response.read()
            return {"page": page, "status": response.status, "location": response.headers.get("Location", "")}

    async def click(self, account: Account, openid: str, key: str) -> Delivery:
        self.world.grant(self._get(account, openid), "event")
        return await self._push(account, MenuClickEvent(**self._base(account, openid), msg_type="event", key=key))

    async def view(self, account: Account, openid: str, url: str) -> Delivery:
        self._get(account, openid)
        menu_id = str(account.menu.menu_id) if account.menu else None
        event = MenuViewEvent(**self._base(account, openid), msg_type="event", url=url, menu_id=menu_id)
        return await self._push(account, event)

    async def text(self, account: Account, openid: str, content: str) -> Delivery:
        self.world.grant(self._get(account, openid), "text")
        message = TextMessage(
            **self._base(account, openid), msg_type="text", content=content, id=self.world.next_msgid()
        )
        return await self._push(account, message)

    def sent(self, account: Account, patient: Patient, template_id: str, msgid: int) -> None:
        """After a successful bizsend: WeChat's asynchronous delivery report."""
        if not account.callback_url:
            return
        event = SubscribeSentEvent(
            **self._base(account, patient.openid),
            msg_type="event",
            results=(SentResult(template_id, msgid, 0, "success"),),
        )
        self.deliverer.later(account, event, self.deliverer.sent_event_delay)
