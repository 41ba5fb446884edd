"""`manage.py rebuild_stats`: drop every rollup and compute it again from the raw events."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from wxnotify.stats import services
from wxnotify.stats.rollups import SOURCES


class Command(BaseCommand):
    help = "Rebuild the statistics rollups from the raw events (the same rows the minute refresh keeps)."

    def handle(self, *args: Any, **options: Any) -> None:
        began = time.perf_counter()
        counts = services.rebuild()
        unit = {source.name: "months" if source.period == "month" else "days" for source in SOURCES}
        summary = ", ".join(f"{name} {n} {unit.get(name, 'sends')}" for name, n in counts.items())
        self.stdout.write(f"rollups rebuilt in {time.perf_counter() - began:.1f} s: {summary}")
