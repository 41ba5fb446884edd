"""`collectstatic` when the static sources changed, once even when several web processes start together.

Every production start runs it (config/gunicorn.conf.py's on_starting hook, the demo, the test session):
WhiteNoise serves only what was collected — compressed copies and content-hashed names a browser may
cache for ever. Skipped when the sources (paths, sizes, modification times) are those of the last run,
so a restart costs a Django start-up, not a recompression of every vendored library.
"""

from __future__ import annotations

import fcntl
import hashlib
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.core.management import call_command
from django.core.management.base import BaseCommand


def sources_fingerprint() -> str:
    digest = hashlib.sha256()
    for finder in get_finders():
        for path, storage in finder.list(ignore_patterns=[]):
            stat = Path(storage.path(path)).stat()
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def prepare_static() -> bool:
    """Collect if needed; True when it collected. Holds a lock so concurrent starts collect once."""
    root = Path(settings.STATIC_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    stamp = root / ".sources"
    with (root / ".collect.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fingerprint = sources_fingerprint()
        if stamp.exists() and stamp.read_text() == fingerprint and (root / "staticfiles.json").exists():
            return False
        call_command("collectstatic", interactive=False, verbosity=0)
        stamp.write_text(fingerprint)
        return True


class Command(BaseCommand):
    help = "Collect (and compress) the static files if their sources changed since the last collection."

    def handle(self, *args: Any, **options: Any) -> None:
        collected = prepare_static()
        if options["verbosity"] > 1:
            self.stdout.write("static files collected" if collected else "static files up to date")
