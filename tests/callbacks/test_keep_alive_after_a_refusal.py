"""A refused body must not break the connection it came on for the requests behind it.

gunicorn drains an unread body of up to 64 KiB before reusing a keep-alive connection and drops the
connection beyond that — after answering "Connection: keep-alive". The probe counted 191 innocent
requests that failed on such connections. http.client is a strict client: it reuses a connection
announced as kept and opens a new one after "Connection: close", so a drop shows as an error.
"""

from __future__ import annotations

import http.client
from urllib.parse import urlencode, urlsplit

import pytest

from tests.conftest import as_account, fixture_xml, running_web_app
from wechat.push import build_push

pytestmark = pytest.mark.django_db(transaction=True)


def test_after_an_oversized_push_the_next_request_on_the_connection_is_answered(make_account):
    account = make_account(mode="safe")
    valid = build_push(
        as_account(fixture_xml("follow.xml"), account),
        token=account.callback_token,
        appid=account.appid,
        mode="safe",
        encoding_aes_key=account.encoding_aes_key,
    )
    path = f"/wechat/{account.appid}/callback?{urlencode(valid.query)}"
    with running_web_app() as (base, _):
        connection = http.client.HTTPConnection(urlsplit(base).netloc, timeout=10)
        statuses = []
        for size in (70_000, 65_536, 200_000, 1_000, 1_000_000):
            body = b"<xml>" + b" " * size + b"</xml>"
            connection.request("POST", path, body=body, headers={"Content-Type": "text/xml"})
            refused = connection.getresponse()
            refused.read()
            assert refused.status == 400, size
            assert refused.getheader("Connection") == ("close" if len(body) >= 64 * 1024 else "keep-alive"), size
            # the request behind it: on the same connection when it was kept, on a new one when it was closed
            connection.request("GET", "/login/")
            after = connection.getresponse()
            after.read()
            statuses.append(after.status)
        # Far beyond any push (5 MB) nothing is read: the sender may see its upload cut short, but the
        # connection was never announced as kept, and the next request is answered.
        try:
            connection.request("POST", path, body=b"x" * 5_000_000, headers={"Content-Type": "text/xml"})
            huge = connection.getresponse()
            assert (huge.status, huge.getheader("Connection")) == (400, "close")
            huge.read()
        except (BrokenPipeError, ConnectionResetError):
            connection.close()
        connection.request("POST", path, body=valid.body, headers={"Content-Type": "text/xml"})
        accepted = connection.getresponse()
        assert (accepted.status, accepted.read()) == (200, b"success")
        connection.close()
    assert statuses == [200] * 5
