"""Where a benchmark puts its figures: printed, and kept in one JSON file, one key per benchmark. Run by the
suite (`make bench`), a benchmark writes its result to the file WXNOTIFY_BENCH_RESULT names instead, and the
suite writes the summary."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SUMMARY = Path(__file__).resolve().parent.parent / "var" / "bench" / "summary.json"


def record(name: str, result: dict[str, Any]) -> None:
    print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    if target := os.environ.get("WXNOTIFY_BENCH_RESULT"):
        Path(target).write_text(json.dumps(result, ensure_ascii=False, default=str))
        return
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    summary = json.loads(SUMMARY.read_text()) if SUMMARY.exists() else {}
    summary[name] = result
    SUMMARY.write_text(json.dumps(summary, indent=2, ensure_ascii=False, default=str))
