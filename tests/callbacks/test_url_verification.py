"""GET on the server URL: WeChat's URL check when an administrator saves the server configuration."""

from urllib.parse import urlencode

from wechat.signature import callback_signature


def test_echoes_echostr_when_signed_with_the_account_token(client, make_account):
    account = make_account(callback_token="AAAAA")
    query = {
        "signature": "f464b24fc39322e44b38aa78f5edd27bd1441696",
        "timestamp": "1714036504",
        "nonce": "1514711492",
        "echostr": "9149402766473718484",
    }
    response = client.get(f"/wechat/{account.appid}/callback?{urlencode(query)}")
    assert response.status_code == 200
    assert response.content == b"9149402766473718484"


def test_wrong_signature_is_403_and_echoes_nothing(client, make_account):
    account = make_account()
    query = {"signature": callback_signature("not-the-token", "1", "2"), "timestamp": "1", "nonce": "2", "echostr": "E"}
    response = client.get(f"/wechat/{account.appid}/callback?{urlencode(query)}")
    assert response.status_code == 403 and b"E" not in response.content


def test_unknown_or_inactive_account_is_404(client, make_account):
    account = make_account(is_active=False)
    assert client.get(f"/wechat/{account.appid}/callback").status_code == 404
    assert client.get("/wechat/wx0000000000000000/callback").status_code == 404


def test_the_callback_needs_no_login(client, make_account):
    account = make_account(callback_token="AAAAA")
    query = {
        "signature": "899cf89e464efb63f54ddac96b0a0a235f53aa78",
        "timestamp": "1714037059",
        "nonce": "486452656",
        "echostr": "ok",
    }
    response = client.get(f"/wechat/{account.appid}/callback?{urlencode(query)}")
    assert response.status_code == 200 and response.content == b"ok"
