"""A database made for one benchmark run and gone after it: SQLite under a temp dir, or with `postgres`
a database created on DATABASE_URL's server and dropped at the end. Django is set up and migrated on it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def throwaway_database(*, postgres: bool, prefix: str) -> Iterator[str]:
    """Yields the var dir the run's processes should share (WXNOTIFY_VAR_DIR is already set to it)."""
    var_dir = tempfile.mkdtemp(prefix=f"wxnotify-bench-{prefix}-")
    os.environ["WXNOTIFY_VAR_DIR"] = var_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    name = None
    if postgres:
        import psycopg

        base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
        name = f"wxnotify_bench_{os.getpid()}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = base.rsplit("/", 1)[0] + f"/{name}"
    else:
        os.environ.pop("DATABASE_URL", None)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("prepare_static")  # pages name their static files through the manifest, as in production
    try:
        yield var_dir
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)  # a 10-million-row SQLite file is gigabytes
        if name:
            import psycopg
            from django.db import connections

            connections.close_all()
            base = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
