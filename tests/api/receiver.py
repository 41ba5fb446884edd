"""A webhook receiver for tests: a real HTTP server on a free port that checks each POST's signature the way
an integrator would (from the secret alone, not with our code) and answers with the statuses it is given."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    event: str
    event_id: str
    body: dict[str, Any]
    signature_ok: bool
    fresh: bool


@dataclass
class Receiver:
    url: str
    secret: str = ""
    answers: list[int] = field(default_factory=list)  # statuses to answer in turn; then 200
    got: list[Received] = field(default_factory=list)

    def wait_for(self, n: int, timeout: float = 20) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.got) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.got


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            timestamp = self.headers.get("X-Wxnotify-Timestamp", "")
            expected = hmac.new(receiver.secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
            given = self.headers.get("X-Wxnotify-Signature", "")
            receiver.got.append(
                Received(
                    event=self.headers.get("X-Wxnotify-Event", ""),
                    event_id=self.headers.get("X-Wxnotify-Delivery", ""),
                    body=json.loads(raw),
                    signature_ok=hmac.compare_digest(given, f"v1={expected}"),
                    fresh=abs(time.time() - int(timestamp or 0)) < 300,
                )
            )
            status = receiver.answers.pop(0) if receiver.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/wxnotify"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
