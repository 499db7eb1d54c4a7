"""What every Trail process sets up before its first log line or metric (docs/metrics.md).

Called from the settings, so it runs once in each process (web worker, Celery worker,
`manage.py` command, test run) before anything imports prometheus-client:

- `prepare_metrics_dir`: prometheus-client's multiprocess mode keeps each process's values
  in `<var>/metrics/<kind>_<pid>.db` (`PROMETHEUS_MULTIPROC_DIR`, which must be set before
  the library is first imported). `/metrics` adds up the files of every process of this
  host. Files of processes that are gone are deleted at start; those of live processes
  (other granian workers, the Celery worker on the same var directory) are kept.
- `logging_config`: Django's `LOGGING`, plain text or one JSON object a line
  (`LOG_FORMAT=json`), each with the request id of the request it was written in;
- `request_id` (a context variable) and `RequestIdFilter`, which put it on every record;
  `accepted_id`, the id a request is known by;
- `init_sentry`: errors to Sentry when `SENTRY_DSN` is set and sentry-sdk is installed.

This module does not import prometheus-client (see above); `common.metrics` does.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
import uuid
from contextvars import ContextVar
from pathlib import Path
from typing import Any

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_VALUE_FILE = re.compile(r"^[a-z_]+_(\d+)\.db$")

# The current request's id ("-" outside a request: start-up, periodic jobs).
request_id: ContextVar[str] = ContextVar("trail_request_id", default="-")
REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9\-_.:/+=]{1,128}")


def accepted_id(given: str | None) -> str:
    """`given` (a proxy's `X-Request-ID`) if it is a sane request id — 1 to 128 letters,
    digits and `-_.:/+=` — else a new random one."""
    if given and _SANE_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def prepare_metrics_dir(var_dir: Path) -> Path:
    """The multiprocess directory (`PROMETHEUS_MULTIPROC_DIR` if set, else `var/metrics`),
    created, named in the environment, without the files of processes that are gone."""
    directory = Path(os.environ.get(MULTIPROC_VARIABLE) or var_dir / "metrics")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ[MULTIPROC_VARIABLE] = str(directory)
    for entry in os.scandir(directory):
        found = _VALUE_FILE.match(entry.name)
        if found and not _alive(int(found.group(1))):
            with contextlib.suppress(FileNotFoundError):  # another process removed it first
                os.unlink(entry.path)
    return directory


class RequestIdFilter(logging.Filter):
    """Puts `request_id` on every record (a filter of the handler: records of every logger)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id, the exception's
    traceback if any, and whatever `extra=` the call gave."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "process": record.process,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value if isinstance(value, str | int | float | bool) else repr(value)
        return json.dumps(entry, ensure_ascii=False)


def logging_config(*, level: str, fmt: str) -> dict[str, Any]:
    """Django's `LOGGING`: the root logger to stderr, as `fmt` ("plain" or "json")."""
    formatters = {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"},
        "json": {"()": "common.observability.JsonFormatter"},
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "common.observability.RequestIdFilter"}},
        "formatters": {fmt: formatters[fmt]},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": fmt,
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
    }


def init_sentry(dsn: str | None) -> bool:
    """Send errors to Sentry when `dsn` is set and sentry-sdk is installed (the optional
    extra `trail[sentry]`); whether it was started. No personal data: no IPs, no bodies."""
    if not dsn:
        return False
    try:
        import sentry_sdk
    except ImportError:
        logging.getLogger(__name__).warning(
            "SENTRY_DSN is set but sentry-sdk is not installed (pip install 'trail[sentry]')"
        )
        return False
    # Options both sentry-sdk 2 and 3 know; what could name a visitor is cut in `scrub`.
    sentry_sdk.init(dsn=dsn, max_request_body_size="never", before_send=scrub)
    return True


_CLIENT_HEADERS = {"x-forwarded-for", "x-real-ip", "forwarded", "cookie", "authorization"}


def scrub(event: Any, _hint: Any = None) -> Any:
    """An error report without the client's address, cookies, credentials or body (Trail
    never stores a raw IP: docs/privacy.md)."""
    event.pop("user", None)
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "cookies", "env"):
            request.pop(key, None)
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {
                k: v for k, v in headers.items() if k.lower() not in _CLIENT_HEADERS
            }
    return event
