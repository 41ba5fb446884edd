"""The aiohttp client against a local fake WeChat: real HTTP on loopback."""

import asyncio
import json

import aiohttp
import pytest
from aiohttp import web

from tests.fakewechat import FakeWeChat
from wechat.client import CredentialClient, WeChatClient
from wechat.errors import ErrorClass, WeChatAPIError, WeChatTransportError


class CountingTokens:
    def __init__(self) -> None:
        self.current = "T1"
        self.refreshes: list[str] = []

    async def get(self) -> str:
        return self.current

    async def refresh(self, stale: str) -> str:
        self.refreshes.append(stale)
        self.current = f"T{len(self.refreshes) + 1}"
        return self.current


def run_with_fake(test):
    async def main():
        fake = FakeWeChat()
        base = await fake.start()
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
                await test(fake, base, session)
        finally:
            await fake.close()

    asyncio.run(main())


def test_fetch_token_and_its_errors_never_leak_the_secret():
    async def test(fake, base, session):
        fake.on(
            "/cgi-bin/token",
            lambda r, p: (
                {"access_token": "ACCESS", "expires_in": 7200}
                if r.query["secret"] == "s3cret-value"
                else {"errcode": 40125, "errmsg": "invalid appsecret rid: 1-2-3"}
            ),
        )
        client = CredentialClient(session, base)
        token = await client.fetch_token(appid="wx0123456789abcdef", secret="s3cret-value")
        assert (token.value, token.expires_in) == ("ACCESS", 7200)
        with pytest.raises(WeChatAPIError) as error:
            await client.fetch_token(appid="wx0123456789abcdef", secret="wrong-secret-value")
        assert error.value.errcode == 40125
        assert "wrong-secret-value" not in str(error.value)

    run_with_fake(test)


def test_stable_token_posts_json():
    async def test(fake, base, session):
        fake.on("/cgi-bin/stable_token", lambda r, p: {"access_token": f"S-{p['force_refresh']}", "expires_in": 7000})
        client = CredentialClient(session, base)
        assert (await client.fetch_stable_token(appid="wx1", secret="s")).value == "S-False"
        assert (await client.fetch_stable_token(appid="wx1", secret="s", force_refresh=True)).value == "S-True"

    run_with_fake(test)


def test_bizsend_sends_raw_utf8_and_returns_the_int64_msgid():
    async def test(fake, base, session):
        fake.on(
            "/cgi-bin/message/subscribe/bizsend",
            lambda r, p: {"errcode": 0, "errmsg": "ok", "msgid": 1988810812324364291},
        )
        client = WeChatClient(session, CountingTokens(), base)
        msgid = await client.send_subscribe_message(
            openid="o1", template_id="TPL", data={"thing1": "心内科复诊"}, page="https://h.example/a"
        )
        assert msgid == 1988810812324364291
        _path, query, body = fake.requests[-1]
        assert query["access_token"] == "T1"
        assert "心内科复诊".encode() in body and b"\\u" not in body
        assert json.loads(body) == {
            "touser": "o1",
            "template_id": "TPL",
            "data": {"thing1": {"value": "心内科复诊"}},
            "page": "https://h.example/a",
        }

    run_with_fake(test)


def test_auth_error_refreshes_once_then_retries():
    async def test(fake, base, session):
        fake.on(
            "/cgi-bin/user/info",
            lambda r, p: (
                {"openid": "o1", "subscribe": 1}
                if r.query["access_token"] == "T2"
                else {"errcode": 40001, "errmsg": "invalid credential"}
            ),
        )
        tokens = CountingTokens()
        client = WeChatClient(session, tokens, base)
        assert (await client.get_user_info(openid="o1"))["subscribe"] == 1
        assert tokens.refreshes == ["T1"]
        assert fake.calls["/cgi-bin/user/info"] == 2

    run_with_fake(test)


def test_auth_error_twice_gives_up_instead_of_looping():
    async def test(fake, base, session):
        fake.on("/cgi-bin/user/info", lambda r, p: {"errcode": 42001, "errmsg": "access_token expired"})
        tokens = CountingTokens()
        with pytest.raises(WeChatAPIError) as error:
            await WeChatClient(session, tokens, base).get_user_info(openid="o1")
        assert error.value.error_class is ErrorClass.AUTH
        assert len(tokens.refreshes) == 1 and fake.calls["/cgi-bin/user/info"] == 2

    run_with_fake(test)


def test_other_errors_are_not_retried():
    async def test(fake, base, session):
        fake.on(
            "/cgi-bin/message/subscribe/bizsend",
            lambda r, p: {"errcode": 43101, "errmsg": "user refuse to accept the msg rid: x"},
        )
        tokens = CountingTokens()
        with pytest.raises(WeChatAPIError) as error:
            await WeChatClient(session, tokens, base).send_subscribe_message(openid="o1", template_id="T", data={})
        assert error.value.errcode == 43101 and error.value.error_class is ErrorClass.RECIPIENT
        assert tokens.refreshes == [] and fake.calls["/cgi-bin/message/subscribe/bizsend"] == 1

    run_with_fake(test)


@pytest.mark.parametrize(
    "response",
    [
        lambda r, p: web.Response(status=502, text="bad gateway"),
        lambda r, p: web.Response(text="<html>not json</html>"),
        lambda r, p: web.Response(text="[1, 2]", content_type="application/json"),
    ],
    ids=["http-502", "not-json", "json-array"],
)
def test_transport_failures_are_transient(response):
    async def test(fake, base, session):
        fake.on("/cgi-bin/menu/get", response)
        with pytest.raises(WeChatTransportError) as error:
            await WeChatClient(session, CountingTokens(), base).get_menu()
        assert error.value.error_class is ErrorClass.TRANSIENT
        assert "access_token" not in str(error.value)

    run_with_fake(test)


def test_timeout_is_a_transport_error():
    async def slow(r, p):
        await asyncio.sleep(5)
        return {}

    async def test(fake, base, session):
        fake.on("/cgi-bin/menu/get", slow)
        short = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.2))
        async with short:
            with pytest.raises(WeChatTransportError):
                await WeChatClient(short, CountingTokens(), base).get_menu()

    run_with_fake(test)


def test_connection_refused_is_a_transport_error():
    async def main():
        async with aiohttp.ClientSession() as session:
            with pytest.raises(WeChatTransportError):
                await WeChatClient(session, CountingTokens(), "http://127.0.0.1:9").get_menu()

    asyncio.run(main())


def test_every_covered_endpoint_hits_wechats_path():
    async def test(fake, base, session):
        for path in [
            "/wxaapi/newtmpl/getcategory",
            "/wxaapi/newtmpl/getpubtemplatetitles",
            "/wxaapi/newtmpl/getpubtemplatekeywords",
            "/wxaapi/newtmpl/addtemplate",
            "/wxaapi/newtmpl/deltemplate",
            "/wxaapi/newtmpl/gettemplate",
            "/cgi-bin/message/template/subscribe",
            "/cgi-bin/message/custom/send",
            "/cgi-bin/menu/create",
            "/cgi-bin/menu/get",
            "/cgi-bin/menu/delete",
            "/cgi-bin/user/get",
            "/cgi-bin/ticket/getticket",
            "/cgi-bin/openapi/quota/get",
            "/sns/oauth2/access_token",
            "/cgi-bin/clear_quota/v2",
        ]:
            fake.on(
                path,
                lambda r, p: {
                    "errcode": 0,
                    "errmsg": "ok",
                    "data": [],
                    "priTmplId": "P",
                    "ticket": "JT",
                    "expires_in": 7200,
                },
            )
        c = WeChatClient(session, CountingTokens(), base)
        await c.get_category()
        await c.get_pub_template_titles(category_ids=[2, 616])
        await c.get_pub_template_keywords(tid=99)
        assert await c.add_template(tid=99, kid_list=[3, 5], scene_desc="活动提醒") == "P"
        await c.delete_template(template_id="P")
        await c.get_templates()
        await c.send_one_time_subscribe(openid="o", template_id="T", scene=1000, title="订阅通知", content="您好")
        await c.send_custom_message(openid="o", msgtype="text", content={"content": "hi"})
        await c.create_menu(buttons=[{"type": "click", "name": "导诊", "key": "K"}])
        await c.get_menu()
        await c.delete_menu()
        await c.get_followers(next_openid="o9")
        assert (await c.get_jsapi_ticket()).value == "JT"
        await c.get_quota(cgi_path="/cgi-bin/message/subscribe/bizsend")
        creds = CredentialClient(session, base)
        await creds.oauth_access_token(appid="wx1", secret="s", code="C")
        await creds.clear_quota(appid="wx1", secret="s")
        assert set(fake.calls) == set(fake.routes)
        titles = next(q for p, q, b in fake.requests if p.endswith("getpubtemplatetitles"))
        assert titles["ids"] == "2,616" and titles["limit"] == "30"

    run_with_fake(test)
