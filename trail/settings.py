"""Django settings. Every value comes from `trail.config.load()` (the environment)."""

import os as _os

from common import observability as _observability
from trail import config as _config
from trail import private as _private
from trail.backup import config as _backup_config

TRAIL = _config.load()
_private.protect(TRAIL)  # data files 0600 in 0700 directories, new and old (docs/privacy.md)
# Metrics, logs and Sentry (docs/metrics.md): before anything imports prometheus-client.
_observability.prepare_metrics_dir(TRAIL.var_dir)
_observability.init_sentry(TRAIL.sentry_dsn)
BASE_DIR = _config.BASE_DIR

SECRET_KEY = TRAIL.secret_key
DEBUG = TRAIL.debug
ALLOWED_HOSTS = TRAIL.allowed_hosts
CSRF_TRUSTED_ORIGINS = [TRAIL.base_url]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "allauth",
    "allauth.account",
    # Trail's apps, lowest layer first (docs/architecture.md, held by `make lint`): trail ->
    # frontend -> alerts | digests -> reports -> events -> notify -> sites -> accounts -> common.
    "accounts",
    "sites",
    "notify",
    "events",
    "reports",
    "alerts",
    "digests",
    "frontend",
    "trail",  # the project: settings, the server (`manage.py serve`), preflight
]

# The checks the apps' commands run before using the services (common.hooks).
TRAIL_PREFLIGHT = {
    "all": "trail.preflight.check_all",
    "clickhouse": "trail.preflight.check_clickhouse",
}

MIDDLEWARE = [
    "trail.request_id.RequestIdMiddleware",  # first: every later log line carries the id
    "trail.security.SecurityHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "frontend.middleware.TenancyErrorsMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "trail.urls"

# Security headers and cookies (docs/architecture.md, "Security headers"); the
# Content-Security-Policy is trail.security's.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"  # dashboard URLs (filters, shared-link auth) stay home
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"  # with the policy's frame-ancestors 'none'
SESSION_COOKIE_SECURE = TRAIL.https
CSRF_COOKIE_SECURE = TRAIL.https
SECURE_HSTS_SECONDS = TRAIL.hsts_seconds
SECURE_HSTS_INCLUDE_SUBDOMAINS = TRAIL.hsts_seconds > 0
if TRAIL.ingest.trusted_proxies:  # the proxy says which scheme the browser used
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = TRAIL.https
    # load balancers probe, and Prometheus scrapes, over plain HTTP inside the network
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# HSTS preload is the registrable domain's owner's decision, not Trail's (it usually runs
# on a subdomain, which the preload list does not take).
SILENCED_SYSTEM_CHECKS = ["security.W021"]
CSRF_FAILURE_VIEW = "trail.errors.csrf_failure"
WSGI_APPLICATION = "trail.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "frontend.context.trail",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": TRAIL.database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "site-list"
LOGOUT_REDIRECT_URL = "account_login"

# django-allauth: email + password, verified email required.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Trail] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = TRAIL.base_url.split("://", 1)[0]
# Rate limits (allauth's defaults) count the client of common.clients, not the proxy.
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"

_email = TRAIL.email
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = TRAIL.email_from
SERVER_EMAIL = TRAIL.email_from

if TRAIL.redis_url:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": TRAIL.redis_url,
            "KEY_PREFIX": "trail",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = TRAIL.var_dir / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    "exports": TRAIL.exports_storage,  # export jobs' files (events/data_jobs.py)
}
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["common.strict_json.StrictJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "EXCEPTION_HANDLER": "accounts.api.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Trail API",
    "DESCRIPTION": (
        "Sites, ingest and stats. Authenticate with `Authorization: Bearer <API key>`: create"
        " a key in Trail under [API keys](/settings/api-keys) and give it the scopes it needs."
        " The browser endpoints `/api/event` and `/api/send` need no key."
        " [Back to Trail](/sites/)"
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # /api/event and /api/send are answered before Django: written in by trail/openapi.py.
    "POSTPROCESSING_HOOKS": ["trail.openapi.add_ingest_paths"],
}

# ClickHouse, Celery and the job thread (events/job_thread.py): see trail.config and the README.
CLICKHOUSE = TRAIL.clickhouse
# Periodic backups (docs/operations.md): TRAIL_BACKUP_DIR (unset: none),
# TRAIL_BACKUP_EVERY_HOURS (24) and TRAIL_BACKUP_KEEP (7).
TRAIL_BACKUP = _backup_config.load(_os.environ)
CELERY_BROKER_URL = TRAIL.redis_url or "memory://"
CELERY_RESULT_BACKEND = TRAIL.redis_url or "cache+memory://"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Plain text or JSON lines (LOG_FORMAT), each with its request's id (docs/metrics.md).
LOGGING = _observability.logging_config(level=TRAIL.log_level, fmt=TRAIL.log_format)
DATA_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024  # the batch ingest API takes up to 8 MiB
