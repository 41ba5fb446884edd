"""Where every benchmark puts its figures: one JSON file, one key per benchmark, printed as well."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SUMMARY = Path(__file__).resolve().parent.parent / "var" / "bench" / "summary.json"


def record(name: str, result: dict[str, Any]) -> None:
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    summary = json.loads(SUMMARY.read_text()) if SUMMARY.exists() else {}
    summary[name] = result
    SUMMARY.write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    print(json.dumps(result, indent=2, ensure_ascii=False))
