"""`manage.py rebuild_stats`: drop every rollup and compute it again from the raw events."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from wxnotify.stats import services


class Command(BaseCommand):
    help = "Rebuild the statistics rollups from the raw events (the same rows the minute refresh keeps)."

    def handle(self, *args: Any, **options: Any) -> None:
        began = time.perf_counter()
        days = services.rebuild()
        summary = ", ".join(f"{name} {n} days" for name, n in days.items())
        self.stdout.write(f"rollups rebuilt in {time.perf_counter() - began:.1f} s: {summary}")
