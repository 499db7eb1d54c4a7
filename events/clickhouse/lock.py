"""One process per embedded data directory.

chDB cannot open a data directory that another process holds, and says so only with
"Error initializing EmbeddedServer". Trail takes an exclusive `flock` on `<data dir>.lock`
first, so a second process gets a clear message naming the holder instead.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

from events.clickhouse.errors import ClickHouseLocked

_held: dict[Path, int] = {}
_guard = threading.Lock()


def lock_path(data_dir: Path) -> Path:
    return data_dir.with_name(data_dir.name + ".lock")


def _message(data_dir: Path, path: Path) -> str:
    try:
        holder = path.read_text().strip() or "unknown"
    except OSError:
        holder = "unknown"
    return (
        f"the embedded ClickHouse data directory {data_dir} is in use by another Trail "
        f"process (pid {holder}); embedded mode runs one process per data directory. "
        "Stop that process, or set CLICKHOUSE_URL to run several processes on a server."
    )


def acquire(data_dir: Path) -> None:
    """Hold the data directory for the life of this process (idempotent)."""
    path = lock_path(data_dir)
    with _guard:
        if path in _held:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ClickHouseLocked(_message(data_dir, path)) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        _held[path] = fd


def ensure_free(data_dir: Path) -> None:
    """Raise `ClickHouseLocked` if another process holds the directory; hold nothing."""
    path = lock_path(data_dir)
    with _guard:
        if path in _held or not path.exists():
            return
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ClickHouseLocked(_message(data_dir, path)) from None
        finally:
            os.close(fd)


def release(data_dir: Path) -> None:
    path = lock_path(data_dir)
    with _guard:
        fd = _held.pop(path, None)
        if fd is not None:
            os.close(fd)
