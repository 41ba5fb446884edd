"""A 4xx is the client's doing: one line without a traceback, and the same kind at most once a minute.

A PermissionDenied wrote a full traceback per 403 (the demo's log reached 74,560 lines in one hostile run)."""

import io
import logging

import pytest

from wxnotify.console.logs import QuietClientErrors


@pytest.fixture
def console_log():
    """What the configured console handler (the one with the filter, as in production) writes."""
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, QuietClientErrors) for f in h.filters))
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def test_forbidden_pages_log_one_line_without_a_traceback(client, personas, console_log):
    client.force_login(personas["vera"])  # a viewer
    for _ in range(30):
        assert client.get("/campaigns/new/").status_code == 403
    lines = console_log.getvalue().splitlines()
    assert len(lines) == 1 and "Forbidden" in lines[0], lines
    assert "Traceback" not in console_log.getvalue()


def test_a_server_error_keeps_its_traceback(console_log):
    logger = logging.getLogger("django.request")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.error("Internal Server Error: /x", exc_info=True, extra={"status_code": 500})
    assert "Traceback" in console_log.getvalue() and "boom" in console_log.getvalue()
