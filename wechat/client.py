"""An async client for the WeChat server API on aiohttp.

The session, the base URL and the token source are injected: the product points it at WeChat or
at wxsim, shares one token per account across processes through its own TokenSource, and owns
the connection pool. Secrets never reach a log line or an exception message from here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import orjson
from yarl import URL

from wechat.errors import AUTH_RETRY_CODES, WeChatAPIError, WeChatTransportError

DEFAULT_BASE_URL = "https://api.weixin.qq.com"
JSONDict = dict[str, Any]


class TokenSource(Protocol):
    """Where the client gets its access token; `refresh` is told which token WeChat refused.

    Passing the stale token lets a shared source refresh only once when many senders hit 40001
    together: whoever finds the stored token already newer than the stale one just returns it.
    """

    async def get(self) -> str: ...

    async def refresh(self, stale: str) -> str: ...


@dataclass(frozen=True)
class Token:
    value: str
    expires_in: int


def _json_body(payload: Mapping[str, Any]) -> bytes:
    # WeChat rejects \uXXXX escapes with 40033, so Chinese must go out as raw UTF-8: orjson writes UTF-8
    # and escapes nothing but what JSON requires (and is several times faster on the send path).
    return orjson.dumps(payload)


JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


async def _read(response: aiohttp.ClientResponse, path: str) -> JSONDict:
    if response.status >= 400:
        raise WeChatTransportError(f"{path}: HTTP {response.status}")
    raw = await response.read()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise WeChatTransportError(f"{path}: response is not JSON") from None
    if not isinstance(data, dict):
        raise WeChatTransportError(f"{path}: response is not a JSON object")
    errcode = data.get("errcode", 0)
    if errcode:
        raise WeChatAPIError(int(errcode), str(data.get("errmsg", "")), path=path)
    return data


class _Base:
    def __init__(self, session: aiohttp.ClientSession, base_url: str = DEFAULT_BASE_URL) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._urls: dict[tuple[str, tuple[tuple[str, str], ...]], URL] = {}

    def _url(self, path: str, params: Mapping[str, str] | None) -> URL:
        """The URL of a call, parsed once per path and query (a send's every request has the same one until
        its token rotates): building it is a noticeable share of a request's cost in aiohttp."""
        key = (path, tuple(params.items()) if params else ())
        url = self._urls.get(key)
        if url is None:
            if len(self._urls) > 64:  # tokens rotate, openid-bearing queries vary: stay small
                self._urls.clear()
            url = self._urls[key] = (
                URL(self._base + path).with_query(dict(key[1])) if params else URL(self._base + path)
            )
        return url

    async def _call(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, body: Mapping[str, Any] | None = None
    ) -> JSONDict:
        data = _json_body(body) if body is not None else None
        headers = JSON_HEADERS if data is not None else None
        try:
            async with self._session.request(method, self._url(path, params), data=data, headers=headers) as response:
                return await _read(response, path)
        except aiohttp.ClientConnectorError as error:
            # The URL carries the access token or the secret: never put it in the message.
            raise WeChatTransportError(f"{path}: {type(error).__name__}", maybe_delivered=False) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise WeChatTransportError(f"{path}: {type(error).__name__}") from None


class CredentialClient(_Base):
    """Calls made with the AppSecret rather than a token: fetching tokens and web OAuth."""

    async def fetch_token(self, *, appid: str, secret: str) -> Token:
        """`GET /cgi-bin/token`. Every call rotates the token (the old one lives 5 more minutes)."""
        data = await self._call(
            "GET", "/cgi-bin/token", params={"grant_type": "client_credential", "appid": appid, "secret": secret}
        )
        return Token(str(data["access_token"]), int(data.get("expires_in", 7200)))

    async def fetch_stable_token(self, *, appid: str, secret: str, force_refresh: bool = False) -> Token:
        """`POST /cgi-bin/stable_token`: the same token until 5 minutes before it expires."""
        data = await self._call(
            "POST",
            "/cgi-bin/stable_token",
            body={"grant_type": "client_credential", "appid": appid, "secret": secret, "force_refresh": force_refresh},
        )
        return Token(str(data["access_token"]), int(data.get("expires_in", 7200)))

    async def oauth_access_token(self, *, appid: str, secret: str, code: str) -> JSONDict:
        """`GET /sns/oauth2/access_token`: exchange a web-OAuth code for the patient's openid."""
        return await self._call(
            "GET",
            "/sns/oauth2/access_token",
            params={"appid": appid, "secret": secret, "code": code, "grant_type": "authorization_code"},
        )

    async def clear_quota(self, *, appid: str, secret: str) -> None:
        """`POST /cgi-bin/clear_quota/v2`: usable even when tokens are exhausted (10 per month)."""
        await self._call("POST", "/cgi-bin/clear_quota/v2", body={"appid": appid, "appsecret": secret})


class WeChatClient(_Base):
    """Token-authenticated calls. On 40001/40014/42001 the token is refreshed once and the call retried."""

    def __init__(self, session: aiohttp.ClientSession, tokens: TokenSource, base_url: str = DEFAULT_BASE_URL) -> None:
        super().__init__(session, base_url)
        self._tokens = tokens

    async def call(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, body: Mapping[str, Any] | None = None
    ) -> JSONDict:
        token = await self._tokens.get()
        try:
            return await self._call(method, path, params={**(params or {}), "access_token": token}, body=body)
        except WeChatAPIError as error:
            if error.errcode not in AUTH_RETRY_CODES:
                raise
        token = await self._tokens.refresh(token)
        return await self._call(method, path, params={**(params or {}), "access_token": token}, body=body)

    # --- subscription notifications (newtmpl) -------------------------------------------------

    async def get_category(self) -> list[JSONDict]:
        return list((await self.call("GET", "/wxaapi/newtmpl/getcategory")).get("data", []))

    async def get_pub_template_titles(self, *, category_ids: list[int], start: int = 0, limit: int = 30) -> JSONDict:
        ids = ",".join(str(i) for i in category_ids)
        params = {"ids": ids, "start": str(start), "limit": str(limit)}
        return await self.call("GET", "/wxaapi/newtmpl/getpubtemplatetitles", params=params)

    async def get_pub_template_keywords(self, *, tid: int) -> list[JSONDict]:
        data = await self.call("GET", "/wxaapi/newtmpl/getpubtemplatekeywords", params={"tid": str(tid)})
        return list(data.get("data", []))

    async def add_template(self, *, tid: int, kid_list: list[int], scene_desc: str) -> str:
        body = {"tid": str(tid), "kidList": kid_list, "sceneDesc": scene_desc}
        return str((await self.call("POST", "/wxaapi/newtmpl/addtemplate", body=body))["priTmplId"])

    async def delete_template(self, *, template_id: str) -> None:
        await self.call("POST", "/wxaapi/newtmpl/deltemplate", body={"priTmplId": template_id})

    async def get_templates(self) -> list[JSONDict]:
        return list((await self.call("GET", "/wxaapi/newtmpl/gettemplate")).get("data", []))

    async def send_subscribe_message(
        self,
        *,
        openid: str,
        template_id: str,
        data: Mapping[str, str],
        page: str | None = None,
        miniprogram: Mapping[str, str] | None = None,
    ) -> int:
        """`bizsend`; returns WeChat's msgid, which its later subscribe_msg_sent_event repeats."""
        body: JSONDict = {
            "touser": openid,
            "template_id": template_id,
            "data": {key: {"value": value} for key, value in data.items()},
        }
        if page:
            body["page"] = page
        if miniprogram:
            body["miniprogram"] = dict(miniprogram)
        result = await self.call("POST", "/cgi-bin/message/subscribe/bizsend", body=body)
        return int(result.get("msgid", 0))

    async def send_one_time_subscribe(
        self,
        *,
        openid: str,
        template_id: str,
        scene: int,
        title: str,
        content: str,
        url: str | None = None,
        miniprogram: Mapping[str, str] | None = None,
    ) -> None:
        """The older one-time subscription message (`template/subscribe`)."""
        body: JSONDict = {
            "touser": openid,
            "template_id": template_id,
            "scene": str(scene),
            "title": title,
            "data": {"content": {"value": content}},
        }
        if url:
            body["url"] = url
        if miniprogram:
            body["miniprogram"] = dict(miniprogram)
        await self.call("POST", "/cgi-bin/message/template/subscribe", body=body)

    # --- customer-service messages, menus, users, JS-SDK, quota -------------------------------

    async def send_custom_message(self, *, openid: str, msgtype: str, content: Mapping[str, Any]) -> None:
        await self.call(
            "POST", "/cgi-bin/message/custom/send", body={"touser": openid, "msgtype": msgtype, msgtype: content}
        )

    async def create_menu(self, *, buttons: list[JSONDict]) -> None:
        await self.call("POST", "/cgi-bin/menu/create", body={"button": buttons})

    async def get_menu(self) -> JSONDict:
        return await self.call("GET", "/cgi-bin/menu/get")

    async def delete_menu(self) -> None:
        await self.call("GET", "/cgi-bin/menu/delete")

    async def get_followers(self, *, next_openid: str = "") -> JSONDict:
        """One page (≤10,000) of `user/get`; pass the returned next_openid until it comes back empty."""
        params = {"next_openid": next_openid} if next_openid else None
        return await self.call("GET", "/cgi-bin/user/get", params=params)

    async def get_user_info(self, *, openid: str, lang: str = "zh_CN") -> JSONDict:
        return await self.call("GET", "/cgi-bin/user/info", params={"openid": openid, "lang": lang})

    USERS_PER_BATCH = 100  # user/info/batchget's limit

    async def get_users_info(self, openids: Sequence[str], *, lang: str = "zh_CN") -> list[JSONDict]:
        """`user/info/batchget` for up to 100 openids: each follower's subscribe_time and scene."""
        if not 0 < len(openids) <= self.USERS_PER_BATCH:
            raise ValueError(f"user/info/batchget takes 1 to {self.USERS_PER_BATCH} openids, not {len(openids)}")
        body = {"user_list": [{"openid": openid, "lang": lang} for openid in openids]}
        answer = await self.call("POST", "/cgi-bin/user/info/batchget", body=body)
        return list(answer.get("user_info_list") or [])

    async def get_jsapi_ticket(self) -> Token:
        data = await self.call("GET", "/cgi-bin/ticket/getticket", params={"type": "jsapi"})
        return Token(str(data["ticket"]), int(data.get("expires_in", 7200)))

    async def get_quota(self, *, cgi_path: str) -> JSONDict:
        return await self.call("POST", "/cgi-bin/openapi/quota/get", body={"cgi_path": cgi_path})
