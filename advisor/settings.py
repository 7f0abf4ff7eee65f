"""Settings, read from environment variables (see README "Configuration" and .env.example).

With nothing set the app runs on the embedded default: SQLite and a Celery broker kept in
files under var/, so `make run` needs nothing but Python. Production sets DATABASE_URL,
REDIS_URL, DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS and DJANGO_SECURE=1.
"""

from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.FileAwareEnv()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
VAR_DIR = Path(env("ADVISOR_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY and DEBUG:
    # `make run` only: a key Django's `check --deploy` reports (security.W009).
    SECRET_KEY = "django-insecure-development-only-never-in-production-4f1c9a7e2b8d6035"  # noqa: S105
# Without DEBUG a missing or weak key stops every server and worker as it starts
# (`secret_key.require_strong`), while commands that sign nothing still run.
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# One switch for a server behind HTTPS: redirects, HSTS and secure cookies.
SECURE = env.bool("DJANGO_SECURE", default=False)
SECURE_SSL_REDIRECT = SECURE
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000 if SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
if env.bool("DJANGO_BEHIND_PROXY", default=SECURE):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# Sessions end after this much inactivity, and this long after sign-in whatever happens
# (advisor.security.middleware.SessionTimeoutMiddleware).
ADVISOR_SESSION_IDLE_MINUTES = env.int("ADVISOR_SESSION_IDLE_MINUTES", default=30)
ADVISOR_SESSION_MAX_HOURS = env.int("ADVISOR_SESSION_MAX_HOURS", default=12)
SESSION_COOKIE_AGE = ADVISOR_SESSION_MAX_HOURS * 3600

# Content-Security-Policy (django-csp): scripts only from this site or with the response's
# nonce; no inline event handlers, no eval, no framing, no plugins. Inline style attributes
# stay allowed (the templates use them for bar widths; styles cannot run code).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "csp",
    "advisor.security",
    "accounts",
    "portfolios",
    "rebalancing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "advisor.security.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "advisor.security.middleware.SessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.auth_events.AuditRequestMiddleware",
    "advisor.security.middleware.RequireMFAMiddleware",
]

ROOT_URLCONF = "advisor.urls"
WSGI_APPLICATION = "advisor.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'advisor.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # web, worker and beat share the file: wait for the lock instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# PostgreSQL: the role web, worker and beat connect as (owns nothing). `migrate`, run as the
# owner role, grants it what it needs; the audit trail is SELECT and INSERT only for it.
ADVISOR_DB_APP_ROLE = env("ADVISOR_DB_APP_ROLE", default="")

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    # ~40,000 common and breached passwords shipped with the app (no network at run time).
    {"NAME": "advisor.security.passwords.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"

# django-allauth: email is the login, verified before first use.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
# The investor's name, asked at sign-up so the dashboard can greet them.
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.SignupNameForm"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Robo-advisor] "
ACCOUNT_REAUTHENTICATION_TIMEOUT = env.int("ACCOUNT_REAUTHENTICATION_TIMEOUT", default=300)
ACCOUNT_ADAPTER = "advisor.security.adapter.AccountAdapter"
# Failed sign-ins are counted per client address, and per (address, email) pair: nobody can
# lock another person out of their account from somewhere else (the adapter builds the key).
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "10/m/ip,50/h/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "reauthenticate": "10/m/user",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = "Robo-advisor"
MFA_RATE_LIMITS = {"authenticate": "5/5m/user", "reauthenticate": "10/m/user"}
# WebAuthn needs https, or http on localhost while developing.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = env.bool("ADVISOR_WEBAUTHN_ALLOW_HTTP", default=DEBUG)
# A second factor for every investor too (staff always need one).
ADVISOR_REQUIRE_MFA = env.bool("ADVISOR_REQUIRE_MFA", default=False)
# Advisers see every household in the console (a small practice) instead of those assigned.
ADVISOR_CONSOLE_SEE_ALL = env.bool("ADVISOR_CONSOLE_SEE_ALL", default=False)
# Who is mailed when the daily audit-chain check finds a break (default: active superusers).
ADVISOR_AUDIT_ALERT_EMAILS = env.list("ADVISOR_AUDIT_ALERT_EMAILS", default=[])
# The client address for rate limits: REMOTE_ADDR, or the proxy's X-Forwarded-For entry.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("ADVISOR_TRUSTED_PROXY_COUNT", default=0)

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="advisor@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("DJANGO_TIME_ZONE", default="America/New_York")
USE_I18N = True
# One date format on every page (advisor/formats/en/formats.py); templates never spell their own.
FORMAT_MODULE_PATH = ["advisor.formats"]
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env.bool("DJANGO_MANIFEST_STATIC", default=True)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PAGINATION_CLASS": "advisor.core.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 100,
}

# Celery. Without REDIS_URL the broker is kombu's filesystem transport: no server needed.
REDIS_URL = env("REDIS_URL", default="")

# The cache holds the sign-in rate limits and the used-TOTP-code marks, so every web process
# must share it: Redis in production and tests. The embedded default (no Redis) keeps it in
# files under var/, shared by the processes of one machine (not atomic: development only).
CACHE_URL = env("CACHE_URL", default=REDIS_URL)
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "advisor",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _queue_dir = VAR_DIR / "celery-broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "control_folder": str(VAR_DIR / "celery-control"),
        "store_processed": False,
    }
else:
    # Longer than any task's time limit (below), so Redis never hands a running task to a
    # second worker; a task lost with a worker killed whole is re-sent by the sweeper long
    # before this runs out.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 1800}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 270
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Product parameters (the methodology page reads these).
ADVISOR_MARKET_DATA_PROVIDER = env("ADVISOR_MARKET_DATA_PROVIDER", default="embedded")
ADVISOR_MARKET_DATA_URL = env("ADVISOR_MARKET_DATA_URL", default="")
ADVISOR_MARKET_DATA_API_KEY = env("ADVISOR_MARKET_DATA_API_KEY", default="")
ADVISOR_MARKET_DATA_TIMEOUT = env.float("ADVISOR_MARKET_DATA_TIMEOUT", default=10.0)
ADVISOR_BROKER = env("ADVISOR_BROKER", default="paper")
ADVISOR_BROKER_URL = env("ADVISOR_BROKER_URL", default="")
ADVISOR_BROKER_KEY_ID = env("ADVISOR_BROKER_KEY_ID", default="")
ADVISOR_BROKER_SECRET = env("ADVISOR_BROKER_SECRET", default="")
ADVISOR_PAPER_SLIPPAGE_BPS = env.float("ADVISOR_PAPER_SLIPPAGE_BPS", default=5.0)
ADVISOR_PAPER_COMMISSION = env.float("ADVISOR_PAPER_COMMISSION", default=0.0)
# Paper broker: fill at most this many shares per order (0 = no cap; a cap gives partial fills)
# and answer after this many seconds (to exercise timeouts and crash windows).
ADVISOR_PAPER_MAX_FILL = env.float("ADVISOR_PAPER_MAX_FILL", default=0.0)
ADVISOR_PAPER_DELAY_SECONDS = env.float("ADVISOR_PAPER_DELAY_SECONDS", default=0.0)
# Queue paper orders placed while the exchange is closed until the next session opens.
ADVISOR_PAPER_MARKET_HOURS = env.bool("ADVISOR_PAPER_MARKET_HOURS", default=True)
# How far behind the database server's clock an audit event written by the app may be dated.
ADVISOR_AUDIT_CLOCK_TOLERANCE_MINUTES = env.int("ADVISOR_AUDIT_CLOCK_TOLERANCE_MINUTES", default=5)
ADVISOR_BROKER_TIMEOUT = env.float("ADVISOR_BROKER_TIMEOUT", default=10.0)
ADVISOR_PROPOSAL_TTL_HOURS = env.int("ADVISOR_PROPOSAL_TTL_HOURS", default=72)
ADVISOR_MAX_PRICE_AGE_DAYS = env.int("ADVISOR_MAX_PRICE_AGE_DAYS", default=3)
ADVISOR_SCAN_BATCH_SIZE = env.int("ADVISOR_SCAN_BATCH_SIZE", default=5000)
# The sweeper re-sends a scan batch unfinished this long after it was sent (longer than the
# task time limit), at most this many times, and other undone work after the grace period.
ADVISOR_SCAN_BATCH_LEASE_SECONDS = env.int("ADVISOR_SCAN_BATCH_LEASE_SECONDS", default=360)
ADVISOR_SCAN_BATCH_ATTEMPTS = env.int("ADVISOR_SCAN_BATCH_ATTEMPTS", default=3)
ADVISOR_SWEEP_GRACE_SECONDS = env.int("ADVISOR_SWEEP_GRACE_SECONDS", default=60)
ADVISOR_SITE_URL = env("ADVISOR_SITE_URL", default="http://127.0.0.1:8000")
# CSV imports larger than this are refused before they are parsed (bytes).
ADVISOR_IMPORT_MAX_BYTES = env.int("ADVISOR_IMPORT_MAX_BYTES", default=50 * 1024 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
