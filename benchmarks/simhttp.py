"""Plain HTTP + JSON to the simulator, for the benchmarks (the product talks to it like to WeChat)."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any


def call(base: str, method: str, path: str, body: Any = None, *, timeout: float = 600) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        base + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def wait_up(url: str) -> None:
    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")
