"""Trail's configuration, read from the environment in one place.

Every variable is documented in the README. A missing or malformed value raises
`ConfigError`, whose message is one line naming the variable; `manage.py` and the
server print it without a traceback.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

import environ

from events.config import ClickHouseConfig, FlushMode, IngestConfig

BASE_DIR: Path = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    """A setting that Trail cannot start with. The message names the variable."""


@dataclass(frozen=True)
class Config:
    var_dir: Path
    secret_key: str
    debug: bool
    base_url: str
    allowed_hosts: list[str]
    database: dict[str, object]
    database_url: str | None
    clickhouse: ClickHouseConfig
    redis_url: str | None
    flush_mode: FlushMode
    log_level: str
    email: dict[str, object]
    email_from: str
    ingest: IngestConfig
    # Reports read a sample of visitors when a query would read more event rows than this.
    report_sample_rows: int
    hsts_seconds: int  # Strict-Transport-Security max-age; 0: no HSTS header
    # Slow clients (trail.gate): seconds for a request's headers, then its body, to arrive;
    # requests one client address may have still sending their body.
    body_timeout: int
    max_connections_per_ip: int
    # Export files (events.data_jobs): Django's STORAGES entry "exports", and their lifetime.
    exports_storage: dict[str, object]
    export_ttl_days: int
    # Imports (reports.imports): the most bytes one import's files may hold (uploaded or unzipped).
    import_max_bytes: int = 10 * 1024**3
    # Retention (events.retention): the most days any site keeps raw events; None: no limit.
    retention_max_days: int | None = None
    # Rollups (events.rollups, docs/rollups.md): the materialized views that keep them, and
    # the planner's use of them; off until they cost less than they save.
    rollups: bool = False
    # Webhooks and streaming destinations (common.outbound): allow loopback, private and
    # link-local addresses (tests, an intranet receiver); refused otherwise (SSRF).
    allow_private_webhooks: bool = False
    # Observability (docs/metrics.md): the Bearer token `/metrics` asks for (None: loopback
    # clients only), log lines as text or JSON, and where errors go (None: not to Sentry).
    metrics_token: str | None = None
    log_format: str = "plain"
    sentry_dsn: str | None = None

    @property
    def services_mode(self) -> bool:
        return self.flush_mode is FlushMode.CELERY

    @property
    def https(self) -> bool:
        """People reach Trail over HTTPS (its base URL says so)."""
        return self.base_url.startswith("https://")


def redact(url: str) -> str:
    """The URL with its password replaced by `***`, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _split(name: str, value: str, schemes: set[str]) -> SplitResult:
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError on a non-numeric or out-of-range port
    except ValueError as exc:
        raise ConfigError(f"{name}: malformed URL {redact(value)!r} ({exc})") from None
    if parts.scheme not in schemes:
        expected = " or ".join(sorted(f"{s}://" for s in schemes))
        raise ConfigError(f"{name}: expected a {expected} URL, got {redact(value)!r}")
    if not parts.hostname and parts.scheme != "sqlite":
        raise ConfigError(f"{name}: the URL {redact(value)!r} has no host")
    del port
    return parts


def _database(env: Mapping[str, str], var_dir: Path) -> tuple[dict[str, object], str | None]:
    url = env.get("DATABASE_URL", "").strip()
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(var_dir / "trail.sqlite3"),
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL;",
                "transaction_mode": "IMMEDIATE",
            },
        }, None
    parts = _split("DATABASE_URL", url, {"postgres", "postgresql", "sqlite"})
    if parts.scheme == "sqlite":
        if not parts.path or parts.path == "/":
            raise ConfigError(f"DATABASE_URL: {url!r} names no SQLite file")
    elif not parts.path.strip("/"):
        raise ConfigError(f"DATABASE_URL: {redact(url)!r} names no database")
    config = environ.Env.db_url_config(url)
    config["CONN_MAX_AGE"] = 60
    config["CONN_HEALTH_CHECKS"] = True
    return config, url


def _clickhouse(env: Mapping[str, str], var_dir: Path) -> ClickHouseConfig:
    url = env.get("CLICKHOUSE_URL", "").strip() or None
    if url is not None:
        _split("CLICKHOUSE_URL", url, {"http", "https"})
    data_dir = Path(env.get("CLICKHOUSE_DATA_DIR", "").strip() or var_dir / "clickhouse")
    cluster = env.get("CLICKHOUSE_CLUSTER", "").strip() or None
    if cluster is not None:
        if url is None:
            raise ConfigError(
                "CLICKHOUSE_CLUSTER: needs CLICKHOUSE_URL (a cluster is a server setup)"
            )
        if not cluster.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"CLICKHOUSE_CLUSTER: {cluster!r} is not a plain cluster name")
    return ClickHouseConfig(url=url, data_dir=data_dir.resolve(), cluster=cluster)


def _flush_mode(
    env: Mapping[str, str], clickhouse: ClickHouseConfig, redis_url: str | None
) -> FlushMode:
    value = env.get("TRAIL_FLUSH_MODE", "auto").strip().lower() or "auto"
    if value == "auto":
        return FlushMode.CELERY if (redis_url and not clickhouse.embedded) else FlushMode.THREAD
    try:
        mode = FlushMode(value)
    except ValueError:
        raise ConfigError(
            f"TRAIL_FLUSH_MODE: expected auto, thread or celery, got {value!r}"
        ) from None
    if mode is FlushMode.CELERY and not redis_url:
        raise ConfigError("TRAIL_FLUSH_MODE: celery needs REDIS_URL (the Celery broker)")
    return mode


def _secret_key(env: Mapping[str, str], var_dir: Path) -> str:
    key = env.get("SECRET_KEY", "").strip()
    if key:
        if len(key) < 32:
            raise ConfigError("SECRET_KEY: must be at least 32 characters")
        return key
    # Embedded installs keep a generated key in var/ so sessions survive restarts.
    path = var_dir / "secret_key"
    try:
        if not path.exists():
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
                f.write(secrets.token_urlsafe(48))  # born 0600: never readable by others
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"SECRET_KEY: not set, and {path} is not writable ({exc})") from None


_EMAIL_SCHEMES = {
    "smtp",
    "smtps",
    "smtp+tls",
    "smtp+ssl",
    "consolemail",
    "filemail",
    "memorymail",
    "dummymail",
}


def _email(env: Mapping[str, str]) -> dict[str, object]:
    url = env.get("EMAIL_URL", "").strip() or "consolemail://"
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in _EMAIL_SCHEMES:
        raise ConfigError(
            "EMAIL_URL: expected smtp://, smtp+tls://, smtps:// or consolemail://,"
            f" got {redact(url)!r}"
        )
    if scheme.startswith("smtp"):
        _split("EMAIL_URL", url, {scheme})
    return dict(environ.Env.email_url_config(url))


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name}: expected true or false, got {value!r}")


def _size(env: Mapping[str, str], name: str, default: str) -> int:
    """A byte size: a plain number, or with a K, M or G suffix (powers of 1024)."""
    value = env.get(name, "").strip().upper() or default
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}
    number, unit = (value[:-1], units[value[-1]]) if value[-1:] in units else (value, 1)
    if not number.isdigit():
        raise ConfigError(f"{name}: expected a size such as 512M or 2G, got {value!r}")
    return int(number) * unit


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip().replace("_", "")
    if not value:
        return default
    if not value.isdigit() or int(value) == 0:
        raise ConfigError(f"{name}: expected a whole number above 0, got {value!r}")
    return int(value)


def _nice(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip() or str(default)
    if not value.isdigit() or int(value) > 19:
        raise ConfigError(f"{name}: expected a niceness from 0 to 19, got {value!r}")
    return int(value)


def _hsts_seconds(env: Mapping[str, str], https: bool) -> int:
    """A year behind an https base URL, none over plain http (browsers ignore it there)."""
    value = env.get("TRAIL_HSTS_SECONDS", "").strip().replace("_", "")
    if not value:
        return 31_536_000 if https else 0
    if not value.isdigit():
        raise ConfigError(f"TRAIL_HSTS_SECONDS: expected a whole number of seconds, got {value!r}")
    return int(value)


def _ingest(env: Mapping[str, str]) -> IngestConfig:
    proxies = []
    for item in env.get("TRAIL_TRUSTED_PROXIES", "").split(","):
        if item.strip():
            try:
                proxies.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                raise ConfigError(
                    f"TRAIL_TRUSTED_PROXIES: {item.strip()!r} is not an IP address or CIDR"
                ) from None
    rate = env.get("TRAIL_SITE_EVENTS_PER_SECOND", "").strip() or "0"
    try:
        per_second = float(rate)
    except ValueError:
        per_second = -1.0
    if not 0 <= per_second < float("inf"):
        raise ConfigError(
            f"TRAIL_SITE_EVENTS_PER_SECOND: expected a number >= 0 (0: no limit), got {rate!r}"
        )
    geoip = env.get("GEOIP_DATABASE", "").strip()
    geoip_path = Path(geoip).expanduser().resolve() if geoip else None
    if geoip_path is not None and not geoip_path.is_file():
        raise ConfigError(f"GEOIP_DATABASE: {geoip_path} is not a file")
    return IngestConfig(
        trusted_proxies=tuple(proxies),
        spool_max_bytes=_size(env, "TRAIL_SPOOL_MAX_BYTES", "2G"),
        spool_min_free_bytes=_size(env, "TRAIL_SPOOL_MIN_FREE_BYTES", "512M"),
        site_events_per_second=per_second,
        geoip_database=geoip_path,
        flush_nice=_nice(env, "TRAIL_FLUSH_NICE", 10),
    )


def _exports_storage(env: Mapping[str, str], var_dir: Path) -> dict[str, object]:
    """Where export files go: a private directory (TRAIL_EXPORT_DIR, default var/exports; a
    volume shared by web and workers in docker-compose), or any Django storage backend
    (django-storages' S3, ...) named by TRAIL_EXPORT_STORAGE, its options a JSON object."""
    backend = env.get("TRAIL_EXPORT_STORAGE", "").strip()
    raw = env.get("TRAIL_EXPORT_STORAGE_OPTIONS", "").strip()
    if not backend:
        if raw:
            raise ConfigError("TRAIL_EXPORT_STORAGE_OPTIONS: needs TRAIL_EXPORT_STORAGE")
        directory = Path(env.get("TRAIL_EXPORT_DIR", "").strip() or var_dir / "exports")
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {
                "location": str(directory.resolve()),
                "file_permissions_mode": 0o600,  # private like the rest of var/ (trail.private)
                "directory_permissions_mode": 0o700,
            },
        }
    if "." not in backend or not all(part.isidentifier() for part in backend.split(".")):
        raise ConfigError(
            f"TRAIL_EXPORT_STORAGE: expected a dotted class path such as"
            f" storages.backends.s3.S3Storage, got {backend!r}"
        )
    try:
        options = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise ConfigError(f"TRAIL_EXPORT_STORAGE_OPTIONS: not JSON ({exc})") from None
    if not isinstance(options, dict):
        raise ConfigError("TRAIL_EXPORT_STORAGE_OPTIONS: expected a JSON object")
    return {"BACKEND": backend, "OPTIONS": options}


def _metrics_token(env: Mapping[str, str]) -> str | None:
    token = env.get("TRAIL_METRICS_TOKEN", "").strip()
    if token and (len(token) < 16 or not all("!" <= c <= "~" for c in token)):
        raise ConfigError(
            "TRAIL_METRICS_TOKEN: expected at least 16 printable ASCII characters, no spaces"
        )
    return token or None


def _log_format(env: Mapping[str, str]) -> str:
    value = env.get("LOG_FORMAT", "plain").strip().lower() or "plain"
    if value not in ("plain", "json"):
        raise ConfigError(f"LOG_FORMAT: expected plain or json, got {value!r}")
    return value


def _sentry_dsn(env: Mapping[str, str]) -> str | None:
    dsn = env.get("SENTRY_DSN", "").strip()
    if dsn:
        _split("SENTRY_DSN", dsn, {"http", "https"})
    return dsn or None


def load(env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    var_dir = Path(env.get("TRAIL_VAR_DIR", "").strip() or BASE_DIR / "var").resolve()
    try:
        var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # private (trail.private)
        (var_dir / "static").mkdir(exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"TRAIL_VAR_DIR: cannot create {var_dir} ({exc})") from None

    redis_url = env.get("REDIS_URL", "").strip() or None
    if redis_url is not None:
        _split("REDIS_URL", redis_url, {"redis", "rediss"})
    clickhouse = _clickhouse(env, var_dir)
    database, database_url = _database(env, var_dir)

    port = env.get("PORT", "8000").strip() or "8000"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"PORT: expected a TCP port number, got {port!r}")
    base_url = (env.get("TRAIL_BASE_URL", "").strip() or f"http://127.0.0.1:{port}").rstrip("/")
    base = _split("TRAIL_BASE_URL", base_url, {"http", "https"})
    hosts = {"127.0.0.1", "localhost", "[::1]", base.hostname or ""}
    hosts.update(h.strip() for h in env.get("ALLOWED_HOSTS", "").split(",") if h.strip())

    log_level = env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR, got {log_level!r}")

    return Config(
        var_dir=var_dir,
        secret_key=_secret_key(env, var_dir),
        debug=_flag(env, "DEBUG"),
        base_url=base_url,
        allowed_hosts=sorted(h for h in hosts if h),
        database=database,
        database_url=database_url,
        clickhouse=clickhouse,
        redis_url=redis_url,
        flush_mode=_flush_mode(env, clickhouse, redis_url),
        log_level=log_level,
        email=_email(env),
        email_from=env.get("EMAIL_FROM", "").strip() or f"Trail <noreply@{base.hostname}>",
        ingest=_ingest(env),
        report_sample_rows=_count(env, "TRAIL_REPORT_SAMPLE_ROWS", 10_000_000),
        hsts_seconds=_hsts_seconds(env, base.scheme == "https"),
        body_timeout=_count(env, "TRAIL_BODY_TIMEOUT", 10),
        max_connections_per_ip=_count(env, "TRAIL_MAX_CONNECTIONS_PER_IP", 128),
        exports_storage=_exports_storage(env, var_dir),
        export_ttl_days=_count(env, "TRAIL_EXPORT_TTL_DAYS", 7),
        import_max_bytes=_count(env, "TRAIL_IMPORT_MAX_BYTES", 10 * 1024**3),
        retention_max_days=_count(env, "TRAIL_RETENTION_MAX_DAYS", 0) or None,
        rollups=_flag(env, "TRAIL_ROLLUPS"),
        allow_private_webhooks=_flag(env, "TRAIL_ALLOW_PRIVATE_WEBHOOKS"),
        metrics_token=_metrics_token(env),
        log_format=_log_format(env),
        sentry_dsn=_sentry_dsn(env),
    )
