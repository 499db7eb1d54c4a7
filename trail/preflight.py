"""Start-up checks: every configured service must answer before Trail starts.

Each failure is one line naming the environment variable to fix. A setting Trail can start
with but should not be served with is one warning line in the log.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError, connection

from trail.config import redact

logger = logging.getLogger(__name__)

CONSOLE_MAIL = "django.core.mail.backends.console.EmailBackend"


class PreflightError(Exception):
    """A configured service cannot be used. The message names the variable."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def check_database() -> None:
    try:
        connection.ensure_connection()
    except DatabaseError as exc:
        url = settings.TRAIL.database_url
        where = redact(url) if url else settings.DATABASES["default"]["NAME"]
        variable = "DATABASE_URL" if url else "TRAIL_VAR_DIR"
        raise PreflightError(f"{variable}: cannot use {where}: {_first_line(exc)}") from None


def check_clickhouse() -> None:
    from events.clickhouse import ClickHouseError, ClickHouseLocked, lock

    config = settings.CLICKHOUSE
    if config.url is None:
        try:
            lock.ensure_free(config.data_dir)
        except ClickHouseLocked as exc:
            raise PreflightError(str(exc)) from None
        return
    from events.clickhouse import get_client

    try:
        get_client().ping()
    except ClickHouseError as exc:
        raise PreflightError(
            f"CLICKHOUSE_URL: cannot connect to {redact(config.url)}: {_first_line(exc)}"
        ) from None


def check_redis() -> None:
    url = settings.TRAIL.redis_url
    if not url:
        return
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
    except (redis.RedisError, OSError) as exc:
        raise PreflightError(
            f"REDIS_URL: cannot connect to {redact(url)}: {_first_line(exc)}"
        ) from None


def check_email() -> None:
    """Warn when reset and verification links would go to the log of a public server."""
    if settings.EMAIL_BACKEND == CONSOLE_MAIL and settings.TRAIL.https:
        logger.warning(
            "EMAIL_URL: the console mail backend prints mail, password reset and address"
            " verification links included, to this log instead of sending it, and"
            " TRAIL_BASE_URL is %s; set EMAIL_URL to an smtp:// URL",
            settings.TRAIL.base_url,
        )


def check_all() -> None:
    check_email()
    check_database()
    check_redis()
    check_clickhouse()
