"""Test overrides: a throwaway var/ folder, fast hashing, Huey in immediate mode unless a test starts real workers."""

import os
import tempfile

os.environ.setdefault("WXNOTIFY_VAR_DIR", tempfile.mkdtemp(prefix="wxnotify-test-"))

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
HUEY["immediate"] = True  # noqa: F405
WECHAT_API_BASE_URL = "http://127.0.0.1:9"  # discard port: a test that forgets to point at a fake WeChat fails fast

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file, not :memory:, so tests with real threads and processes share the database as in production.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}  # noqa: F405
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405 - threads in tests must not keep connections open
WXNOTIFY_REFUSAL_FLUSH_SECONDS = 0  # tests read the refusal counts right after the request
WXNOTIFY_SECOND_MESSAGE_DELAY_SECONDS = 0  # Huey's immediate mode never runs a task scheduled for later
