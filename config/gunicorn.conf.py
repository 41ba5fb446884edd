"""gunicorn settings for every web process (`make web`, `make demo`, the benchmarks, the tests that start one).

A request body the application did not read (a refused push, an unknown account's URL) is drained by
gunicorn before the next request on a keep-alive connection — up to 64 KiB. Beyond that gunicorn drops
the connection, though its answer said "Connection: keep-alive", and the next request a client sends on
it fails (191 such drops in the security probe's run). A WSGI application cannot set `Connection`, so
the hook below tells gunicorn before the request runs: a body it may not drain closes the connection,
and the answer says so.
"""

from __future__ import annotations

from typing import Any

DRAINABLE_BYTES = 64 * 1024  # gunicorn.http.parser._DRAIN_MAX_BYTES

# An attacker's slow body must not hold a thread for long; WeChat sends a push in one go.
timeout = 30
graceful_timeout = 10


def _declared_length(req: Any) -> int | None:
    for name, value in req.headers:
        if name == "CONTENT-LENGTH":
            try:
                return int(value)
            except ValueError:
                return None
        if name == "TRANSFER-ENCODING":
            return None  # chunked: the size is unknown until read
    return 0


def on_starting(server: Any) -> None:
    """Collect the static files before the workers serve pages that name them (see prepare_static)."""
    import subprocess
    import sys
    from pathlib import Path

    manage = Path(__file__).resolve().parent.parent / "manage.py"
    subprocess.run([sys.executable, str(manage), "prepare_static"], check=True)  # noqa: S603 - fixed command


def pre_request(worker: Any, req: Any) -> None:
    length = _declared_length(req)
    if length is None or length >= DRAINABLE_BYTES:  # gunicorn gives up on reaching the limit, not past it
        req.force_close()
