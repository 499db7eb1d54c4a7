"""Periodic backups (`TRAIL_BACKUP_DIR`, `TRAIL_BACKUP_EVERY_HOURS`, `TRAIL_BACKUP_KEEP`).

A job checks every few minutes whether the newest whole backup in the directory is older
than the interval, takes one if so (in the process that may open ClickHouse: the job
thread of the serving process in embedded mode, a Celery worker in services mode), and
then deletes the oldest whole backups beyond the kept count, and partial ones (a backup
killed midway) older than a day. Counting from the newest backup on disk rather than from
the process's start, a restart neither skips nor repeats a backup.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

from events import locks
from trail.backup.manifest import MANIFEST

logger = logging.getLogger(__name__)

PERIODIC_JOB = "trail.backup.periodic"
CHECK_EVERY = 300.0  # seconds between checks whether a backup is due
PREFIX = "trail-backup-"
STAMP = "%Y%m%dT%H%M%SZ"
PARTIAL_AGE = 86_400.0  # seconds after which a partial backup is deleted


def whole_backups(directory: Path) -> list[Path]:
    """The finished backups in `directory` (a manifest written), oldest first."""
    if not directory.is_dir():
        return []
    found = [
        path
        for path in directory.iterdir()
        if path.name.startswith(PREFIX) and (path / MANIFEST).is_file()
    ]
    return sorted(found, key=lambda path: path.name)


def taken_at(path: Path) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(path.name[len(PREFIX) :], STAMP).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def due(directory: Path, every_hours: float, now: dt.datetime) -> bool:
    stamps = [s for s in map(taken_at, whole_backups(directory)) if s is not None]
    return not stamps or now - max(stamps) >= dt.timedelta(hours=every_hours)


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete the whole backups beyond the newest `keep`, and stale partial ones."""
    backups = whole_backups(directory)
    gone = backups[: max(0, len(backups) - keep)]
    if directory.is_dir():
        cutoff = time.time() - PARTIAL_AGE
        gone += [
            path
            for path in directory.glob(f".{PREFIX}*.partial-*")
            if path.stat().st_mtime < cutoff
        ]
    for path in gone:
        shutil.rmtree(path, ignore_errors=True)
        logger.info("backup %s deleted (TRAIL_BACKUP_KEEP=%d)", path, keep)
    return gone


@contextlib.contextmanager
def _one_at_a_time() -> Iterator[bool]:
    """True if this run may back up: one process at a time."""
    with locks.held("trail:backup-lock", 6 * 3600) as renew:
        yield renew is not None


def scheduled(now: dt.datetime | None = None) -> Path | None:
    """The periodic job: take a backup if one is due, prune; the new backup's path."""
    config = settings.TRAIL_BACKUP
    if config.directory is None:
        return None
    now = now or dt.datetime.now(dt.UTC)
    with _one_at_a_time() as mine:
        if not mine:
            return None
        taken = None
        if due(config.directory, config.every_hours, now):
            from trail.backup.take import take

            config.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            taken = config.directory / f"{PREFIX}{now.strftime(STAMP)}"
            take(taken, log=lambda line: logger.info("periodic backup: %s", line))
        prune(config.directory, config.keep)
        return taken
