"""Tests reach nothing beyond loopback (pytest-socket, `--allow-hosts` in pyproject.toml): the simulator,
the live server, PostgreSQL and Redis all listen on 127.0.0.1, and a test that would call the real WeChat
(a base URL left at api.weixin.qq.com) fails at once instead of hanging or leaking a request."""

from __future__ import annotations

import socket

import pytest
from pytest_socket import SocketConnectBlockedError


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_an_address_beyond_loopback_is_refused():
    with socket.socket() as s, pytest.raises(SocketConnectBlockedError):
        s.connect(("203.0.113.7", 443))  # TEST-NET-3: no such host anywhere


def test_loopback_is_reachable():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
