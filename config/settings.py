"""wxnotify settings: one file, everything from the environment (see README, "Configuration").

Defaults give the embedded set-up (SQLite in WAL mode under var/, Huey on SQLite, no other
service); DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("WXNOTIFY_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("WXNOTIFY_DEBUG", False)
PRODUCTION = env_bool("WXNOTIFY_PRODUCTION", False)


def _local_keys() -> dict[str, str]:
    """Keys for a development or demo machine, made once and kept in var/ (never in the repo).

    In production (WXNOTIFY_PRODUCTION=1) both keys must come from the environment instead.
    """
    path = VAR_DIR / "local-keys.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    keys = {"secret_key": secrets.token_urlsafe(50), "field_key": Fernet.generate_key().decode()}
    path.write_text(json.dumps(keys))
    path.chmod(0o600)
    return keys


if PRODUCTION:
    SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
    FIELD_ENCRYPTION_KEYS = env_list("WXNOTIFY_FIELD_KEYS")
    if not FIELD_ENCRYPTION_KEYS:
        raise RuntimeError("WXNOTIFY_FIELD_KEYS must hold at least one Fernet key in production")
else:
    _keys = _local_keys()
    SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", _keys["secret_key"])
    # The first key encrypts; all of them decrypt, so a key can be rotated by prepending a new one.
    FIELD_ENCRYPTION_KEYS = env_list("WXNOTIFY_FIELD_KEYS") or [_keys["field_key"]]

ALLOWED_HOSTS = env_list("WXNOTIFY_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("WXNOTIFY_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "axes",
    "csp",
    "huey.contrib.djhuey",
    "ninja",  # its Swagger UI files, served from our static files
    "wxnotify.accounts",
    "wxnotify.callbacks",
    "wxnotify.followers",
    "wxnotify.subscriptions",
    "wxnotify.campaigns",
    "wxnotify.engagement",
    "wxnotify.stats",
    "wxnotify.api",
    "wxnotify.privacy",
    "wxnotify.console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "wxnotify.console.middleware.NoStoreMiddleware",
    "wxnotify.console.middleware.RefuseControlCharactersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "wxnotify.console.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "wxnotify.console.middleware.HtmxLoginRedirectMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "wxnotify.console.context.console",
            ],
        },
    }
]

# --- database ---------------------------------------------------------------------------

SQLITE_PATH = VAR_DIR / os.environ.get("WXNOTIFY_SQLITE_NAME", "wxnotify.sqlite3")
if os.environ.get("DATABASE_URL"):
    # Health checks: a connection kept across requests is tried before use, so after PostgreSQL restarted the
    # first request of each web thread reconnects instead of failing (a callback would answer 500).
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(SQLITE_PATH),
            # Keep the connection: opening one runs the PRAGMAs below, a large part of a callback's cost.
            "CONN_MAX_AGE": 600,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                # WAL lets readers (the console) work while a writer (callbacks, the worker) commits;
                # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of deadlocking.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- queue and cache ----------------------------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL", "")
# A send holds a worker thread while it runs (WXNOTIFY_SEND_WORKERS of them per send): leave room for the
# minute task (scheduled starts, quiet-hour and quota resumes, revive) and nightly syncs beside two sends.
WORKER_THREADS = int(os.environ.get("WXNOTIFY_WORKER_THREADS", "8"))
HUEY_IMMEDIATE = env_bool("WXNOTIFY_HUEY_IMMEDIATE", False)
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": os.environ.get("WXNOTIFY_QUEUE_NAME", "wxnotify"),
        "url": REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": WORKER_THREADS, "worker_type": "thread"},
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": os.environ.get("WXNOTIFY_QUEUE_NAME", "wxnotify"),
        "filename": str(VAR_DIR / os.environ.get("WXNOTIFY_QUEUE_FILE", "huey.sqlite3")),
        "immediate": HUEY_IMMEDIATE,
        # SQLite is polled: an idle consumer backs off to max_delay (Huey's default 10 s, so a send could start
        # ten seconds after the operator pressed the button); a poll is a cheap read.
        "consumer": {"workers": WORKER_THREADS, "worker_type": "thread", "max_delay": 1.0},
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- auth -----------------------------------------------------------------------------------

AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "login"
# Login lockout (console/lockout.py), all within the cool-off: failures of one username from one address,
# of one address across all usernames (password spraying), of one username across all addresses.
AXES_FAILURE_LIMIT = int(os.environ.get("WXNOTIFY_LOGIN_FAILURE_LIMIT", "5"))
WXNOTIFY_LOGIN_IP_LIMIT = int(os.environ.get("WXNOTIFY_LOGIN_IP_LIMIT", "20"))
WXNOTIFY_LOGIN_USERNAME_LIMIT = int(os.environ.get("WXNOTIFY_LOGIN_USERNAME_LIMIT", "10"))
AXES_COOLOFF_TIME = float(os.environ.get("WXNOTIFY_LOGIN_COOLOFF_HOURS", "0.25"))  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "wxnotify.console.lockout.SprayAwareHandler"
AXES_LOCKOUT_CALLABLE = "wxnotify.console.lockout.locked_out"
AXES_CLIENT_IP_CALLABLE = "wxnotify.console.lockout.client_ip"
# Failures while locked out do not push the end of the lockout further: the page's "try again at" holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# How many reverse proxies stand in front of the web processes (0: none, clients connect directly). With 1 or
# more, the client's address is read from X-Forwarded-For (the lockout counts by it) and X-Forwarded-Proto
# says whether the client used HTTPS. Never set it without a proxy that overwrites those headers.
WXNOTIFY_PROXY_COUNT = int(os.environ.get("WXNOTIFY_PROXY_COUNT", "0"))

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if WXNOTIFY_PROXY_COUNT > 0:
    # The proxy terminates TLS and says so; it must overwrite (not pass on) a client's X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if PRODUCTION:
    # HTTPS only. WeChat's server URL must then be https:// too (WeChat does not follow a redirect).
    SECURE_SSL_REDIRECT = env_bool("WXNOTIFY_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("WXNOTIFY_HSTS_SECONDS", str(365 * 86400)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("WXNOTIFY_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("WXNOTIFY_HSTS_PRELOAD", True)

# Content-Security-Policy on every response (django-csp): scripts only from our own static files — htmx
# and, later, ECharts are vendored there — and no inline script or on…= handler anywhere; the patient page
# adds WeChat's JS-SDK origin for itself. Inline style stays allowed: style attributes draw the bars.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# --- language and time --------------------------------------------------------------------

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "wxnotify" / "locale"]
USE_I18N = True
TIME_ZONE = os.environ.get("WXNOTIFY_TIME_ZONE", "Asia/Shanghai")
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Gzip and Brotli copies, and content-hashed names that browsers may cache for ever (a release changes
    # the name). Every start collects them (`manage.py prepare_static`, run by gunicorn's on_starting hook).
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- WeChat -------------------------------------------------------------------------------

# Where the WeChat API lives: WeChat itself in production, wxsim in the demo and the tests.
WECHAT_API_BASE_URL = os.environ.get("WECHAT_API_BASE_URL", "https://api.weixin.qq.com")
WECHAT_HTTP_TIMEOUT = float(os.environ.get("WECHAT_HTTP_TIMEOUT", "10"))
# Where patients' browsers go for web OAuth, the JS-SDK script and the one-time-subscription confirm
# page: WeChat's hosts in production, wxsim in the demo and the browser tests.
WECHAT_OAUTH_AUTHORIZE_URL = os.environ.get(
    "WECHAT_OAUTH_AUTHORIZE_URL", "https://open.weixin.qq.com/connect/oauth2/authorize"
)
WECHAT_JSSDK_URL = os.environ.get("WECHAT_JSSDK_URL", "https://res.wx.qq.com/open/js/jweixin-1.6.0.js")
# Patient pages normally insist on WeChat's in-app browser; the demo lets any browser play the patient.
WXNOTIFY_ALLOW_OTHER_BROWSERS = env_bool("WXNOTIFY_ALLOW_OTHER_BROWSERS", False)
WECHAT_SUBSCRIBEMSG_URL = os.environ.get("WECHAT_SUBSCRIBEMSG_URL", "https://mp.weixin.qq.com/mp/subscribemsg")
# Sending: requests per second per account (shared by all workers through Redis when it is there),
# concurrent requests per worker, and how many worker tasks a send is split into.
WXNOTIFY_SEND_RATE = float(os.environ.get("WXNOTIFY_SEND_RATE", "500"))
WXNOTIFY_SEND_CONCURRENCY = int(os.environ.get("WXNOTIFY_SEND_CONCURRENCY", "32"))
WXNOTIFY_SEND_WORKERS = int(os.environ.get("WXNOTIFY_SEND_WORKERS", "2"))
# First wait before retrying a transient failure; it doubles with each attempt (at most 60 s).
WXNOTIFY_SEND_BACKOFF_SECONDS = float(os.environ.get("WXNOTIFY_SEND_BACKOFF_SECONDS", "1"))
# How long a claimed delivery stays with its worker; after that, if unanswered, its outcome is "unknown".
WXNOTIFY_SEND_LEASE_SECONDS = float(os.environ.get("WXNOTIFY_SEND_LEASE_SECONDS", "60"))
# How long a running send waits for the database (PostgreSQL restarted) or Redis to come back before its
# worker gives up (the watchdog then revives the send).
WXNOTIFY_DB_OUTAGE_SECONDS = float(os.environ.get("WXNOTIFY_DB_OUTAGE_SECONDS", "120"))
# The callback endpoint refuses a push whose signature timestamp is further than this from now (either way):
# WeChat signs each delivery afresh and its retries come within seconds, so only replays fall outside.
WXNOTIFY_CALLBACK_WINDOW_SECONDS = int(os.environ.get("WXNOTIFY_CALLBACK_WINDOW_SECONDS", "300"))
# Refused pushes are counted in memory and written this often (seconds; 0 writes each one at once).
WXNOTIFY_REFUSAL_FLUSH_SECONDS = float(os.environ.get("WXNOTIFY_REFUSAL_FLUSH_SECONDS", "5"))
# The second message of a welcome leaves this long after the follow was answered, so it arrives after the first.
WXNOTIFY_SECOND_MESSAGE_DELAY_SECONDS = float(os.environ.get("WXNOTIFY_SECOND_MESSAGE_DELAY_SECONDS", "2"))
# Public address of this installation, shown to administrators as the callback URL to configure.
WXNOTIFY_PUBLIC_URL = os.environ.get("WXNOTIFY_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# Each API token may make this many calls per this many seconds ("calls/seconds"); then 429 with Retry-After.
_rate, _per = os.environ.get("WXNOTIFY_API_RATE", "600/60").split("/")
WXNOTIFY_API_RATE = (int(_rate), int(_per))
# Retention (PRIVACY.md): people who unfollowed this many days ago are erased (made anonymous); the text of
# stored pushes (what patients wrote, the raw XML) is emptied after this many days. Counts stay exact.
WXNOTIFY_RETAIN_UNFOLLOWED_DAYS = int(os.environ.get("WXNOTIFY_RETAIN_UNFOLLOWED_DAYS", "365"))
WXNOTIFY_RETAIN_MESSAGES_DAYS = int(os.environ.get("WXNOTIFY_RETAIN_MESSAGES_DAYS", "180"))
# An outgoing webhook is tried this many times, waiting 30 s, 2 min, 8 min, … between tries.
WXNOTIFY_WEBHOOK_ATTEMPTS = int(os.environ.get("WXNOTIFY_WEBHOOK_ATTEMPTS", "8"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # A 4xx is one line without a traceback, and the same kind at most once a minute (console/logs.py).
    "filters": {"quiet_client_errors": {"()": "wxnotify.console.logs.QuietClientErrors"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["quiet_client_errors"]}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("WXNOTIFY_LOG_LEVEL", "INFO")},
    "loggers": {"django.server": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
