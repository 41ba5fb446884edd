"""wxsim's client, in the standard library alone: the control API (`/_sim/…`), the WeChat API it answers,
and an account's server URL called the way WeChat calls it.

    sim = Simulator("http://127.0.0.1:8100").wait_until_up()
    openid = sim.act(appid, "new", "follow", scene="poster_hpv_2026")["openid"]
    sim.act(appid, openid, "text", content="周六有门诊吗")

    server = ServerURL("http://127.0.0.1:8000/wechat/wx…/callback", token=…, appid=…, encoding_aes_key=…)
    status, answer = server.push(message)        # signed, and encrypted in compatible and safe mode

The demo, the benchmarks and the tests drive the simulator through this module, so that anyone
scripting against wxsim uses what they use. Blocking calls on purpose: a script or a test thread
waits for each answer; code that needs many pushes in flight takes `ServerURL.signed` and sends the
pairs with its own HTTP client.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urlencode

from wechat.messages import Message
from wechat.push import Push, build_push
from wechat.xmlcodec import render_message


class SimulatorError(Exception):
    """The control API answered another HTTP status than the caller expected (its errors are HTTP 400
    with {"error": "…"}); `status` and `answer` say what it answered."""

    def __init__(self, method: str, path: str, status: int, answer: Any) -> None:
        super().__init__(f"{method} {path} answered {status}: {answer}")
        self.status = status
        self.answer = answer


def wait_until_up(url: str, *, seconds: float = 20, process: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until `url` answers anything over HTTP (a 404 or a redirect to a login page will do).
    With `process`, stop early when that process has exited: it will not come up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process meant to answer at {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - a URL the caller started
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered at {url} within {seconds:.0f} s")


class Simulator:
    """wxsim at `base_url`. `request` speaks JSON to any path; the methods below name the control calls
    that scripts use most (wxsim/README.md lists them all)."""

    def __init__(self, base_url: str, *, timeout: float = 60) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, Any] | None = None,
        expect: int = 200,
    ) -> Any:
        """`path` on the simulator with `body` as JSON; the answer's JSON. Any other HTTP status than
        `expect` raises SimulatorError (the WeChat API answers its errors with HTTP 200 and an errcode; an
        injected `http_status` fault is another status)."""
        url = self.base_url + path + (f"?{urlencode(query)}" if query else "")
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the simulator's URL, given by the caller
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        try:
            answer = json.loads(payload) if payload else None
        except ValueError:  # an injected HTTP fault, or not the simulator at all: its text, for the error
            answer = payload.decode(errors="replace")
        if status != expect:
            raise SimulatorError(method, path, status, answer)
        return answer

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body if body is not None else {}, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)

    def wait_until_up(self, seconds: float = 20, process: subprocess.Popen[bytes] | None = None) -> Self:
        wait_until_up(self.base_url + "/_sim/stats", seconds=seconds, process=process)
        return self

    # The control API (`/_sim/…`)

    def put_account(self, **fields: Any) -> Any:
        """Create or replace an account: appid, secret, original_id, token, encoding_aes_key, mode,
        callback_url, name."""
        return self.post("/_sim/accounts", fields)

    def account(self, appid: str) -> Any:
        return self.get(f"/_sim/accounts/{appid}")

    def add_template(self, appid: str, tid: int, kid_list: list[int], scene_desc: str = "") -> Any:
        """A template from the simulator's library, as the account's template list gives it (`priTmplId`,
        `title`, `content`, `type`)."""
        body = {"tid": tid, "kid_list": kid_list} | ({"scene_desc": scene_desc} if scene_desc else {})
        return self.post(f"/_sim/accounts/{appid}/templates", body)

    def add_patients(self, appid: str, count: int, **options: Any) -> list[str]:
        """`count` new patients (following unless `following=False`; `credits`, `one_time_scenes`); their openids."""
        return list(self.post(f"/_sim/accounts/{appid}/patients", {"count": count} | options)["openids"])

    def patients(self, appid: str, *, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        return list(self.get(f"/_sim/accounts/{appid}/patients", query={"limit": limit, "offset": offset})["patients"])

    def patient(self, appid: str, openid: str) -> Any:
        return self.get(f"/_sim/accounts/{appid}/patients/{openid}")

    def act(self, appid: str, openid: str, action: str, **body: Any) -> Any:
        """A patient acts: follow (openid "new" makes one), unfollow, popup, settings-reject, open, click,
        view, text, scan. The answer holds the push's delivery to the account's server URL."""
        return self.post(f"/_sim/accounts/{appid}/patients/{openid}/{action}", body)

    def received(self, appid: str, **query: Any) -> Any:
        """Who received what: total, patients, more_than_once (template_id, kind, detail)."""
        return self.get(f"/_sim/accounts/{appid}/received", query=query)

    def stats(self) -> Any:
        return self.get("/_sim/stats")

    def add_fault(self, **fault: Any) -> Any:
        return self.post("/_sim/faults", fault)

    def clear_faults(self) -> Any:
        return self.delete("/_sim/faults")

    def drain(self) -> None:
        """Wait until the pushes still in the background (delivery reports) have reached the server URL."""
        self.post("/_sim/drain")

    # The WeChat API, as any WeChat client calls it

    def access_token(self, appid: str, secret: str) -> str:
        answer = self.get("/cgi-bin/token", query={"grant_type": "client_credential", "appid": appid, "secret": secret})
        if "access_token" not in answer:
            raise SimulatorError("GET", "/cgi-bin/token", 200, answer)
        return str(answer["access_token"])

    def wechat(
        self, method: str, path: str, access_token: str | None, body: Any = None, **params: Any
    ) -> dict[str, Any]:
        """A WeChat API call; its errors come back as errcode/errmsg in the answer, not as an exception."""
        query = params | ({"access_token": access_token} if access_token is not None else {})
        return dict(self.request(method, path, body, query=query))


@dataclass(frozen=True)
class ServerURL:
    """An account's server URL called the way WeChat calls it: each message signed with the account's
    token (a fresh timestamp and nonce each time, as WeChat's retries have), and encrypted with its
    EncodingAESKey in compatible and safe mode (docs/wechat-protocol.md, the push)."""

    url: str
    token: str
    appid: str
    mode: str = "safe"
    encoding_aes_key: str = ""

    def build(self, message: Message | bytes, *, timestamp: int | None = None) -> Push:
        """The query and body of one push (`wechat.push.Push`); a fresh nonce each time."""
        return build_push(
            message if isinstance(message, bytes) else render_message(message),
            token=self.token,
            appid=self.appid,
            mode=self.mode,
            encoding_aes_key=self.encoding_aes_key,
            timestamp=timestamp,
        )

    def signed(self, message: Message | bytes, *, timestamp: int | None = None) -> tuple[str, bytes]:
        """The URL with its signed query string, and the body, for a client of the caller's own."""
        push = self.build(message, timestamp=timestamp)
        joiner = "&" if "?" in self.url else "?"  # a server URL may carry a query of its own
        return f"{self.url}{joiner}{urlencode(push.query)}", push.body

    def push(self, message: Message | bytes, *, timeout: float = 10) -> tuple[int, bytes]:
        """Push one message; the HTTP status and the answer's body (whatever the status)."""
        url, body = self.signed(message)
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "text/xml"})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the caller's URL
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
