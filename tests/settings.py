"""Test settings: Trail's settings with a throw-away var/ (SQLite, chDB, spool).

The services suite sets DATABASE_URL, REDIS_URL and TRAIL_FLUSH_MODE=celery before
importing this (see .ci/run); the embedded suite sets nothing.
"""

import os
import tempfile

# Under pytest-xdist each worker is a process of its own, and chDB admits one process per
# data directory: a worker never takes the var/ (nor the metrics files) its parent made,
# and in the services suite takes a Redis database of its own (the broker's queues too, so
# a task reaches the worker of the test that sent it): gw0 the one REDIS_URL names, gw1
# the next, and so on.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker or "TRAIL_VAR_DIR" not in os.environ:
    os.environ["TRAIL_VAR_DIR"] = tempfile.mkdtemp(prefix=f"trail-test-{_worker}")
if _worker:  # the parent's metrics files (trail.settings named them): var/metrics instead
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
if _worker and os.environ.get("REDIS_URL"):
    _base, _, _db = os.environ["REDIS_URL"].rpartition("/")
    if not _db.isdigit():  # no database named: 0
        _base, _db = os.environ["REDIS_URL"].rstrip("/"), "0"
    os.environ["REDIS_URL"] = f"{_base}/{int(_db) + int(_worker.removeprefix('gw'))}"

from trail.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# SQLite as an install has it (a file in WAL mode, writers waiting on a busy one), not
# Django's default in-memory test database: its shared cache locks whole tables, so a
# thread reading while the embedded job runner writes made the write fail at once
# ("database table is locked"), where a real install waits.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(TRAIL.var_dir / "test.sqlite3")}  # noqa: F405
