"""The on-disk spool: accepted events are durable here before the request is answered.

Each process appends JSON lines to its own open segment (`*.open`, held with `flock`).
Group commit without a writer thread: the first request to find no write in progress
becomes the writer, writes and `fdatasync`s everything pending (its own records and those
of the requests that arrived meanwhile), then wakes them; a lone request thus writes its
own record with no thread hand-off (measured: ~100 µs of CPU per append with a dedicated
writer thread). The writer wakes each waiting thread on its own: those whose records it
wrote return without touching the spool's lock, and one of the others is handed the next
write, so a write never wakes the whole crowd to contend for one lock (docs/ingest.md). A
`2xx` always means "on disk". Segments close
(rename to `*.seg`) every `rotate_seconds` or `rotate_records`; the flush reads closed
segments and deletes each only after ClickHouse confirmed its insert. A segment left open by
a killed process is found by its free lock and closed by `recover_orphans()`; a torn last
line (a crash mid-write, never acknowledged) is skipped.

Segment names are globally unique (host, pid, start time, sequence) and serve as the insert
deduplication token of their block.

Why one file of ~470 lines: the writer hand-off, rotation, closing and orphan recovery share
one lock and one set of invariants (what is on disk when a 2xx leaves); split, the locking
protocol would be spread over modules that each look safe alone.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings

logger = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".seg"
COMMIT_DELAY = 0.0005  # seconds a contended writer waits for more records to share its fsync
OPEN_SUFFIX = ".open"
NEW_SUFFIX = ".new"  # a segment being created, not yet locked


def spool_dir() -> Path:
    return Path(settings.TRAIL.var_dir) / "spool"


class SpoolFull(Exception):
    """The backlog is over its cap (or the disk nearly full): answer 503 + Retry-After."""


@dataclass(frozen=True)
class Backlog:
    segments: int
    bytes: int
    oldest_seconds: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def backlog(directory: Path | None = None) -> Backlog:
    """What waits for the flush: closed and open segments."""
    segments, size, oldest = 0, 0, None
    directory = directory or spool_dir()
    if directory.is_dir():
        for entry in os.scandir(directory):
            if not entry.name.endswith((SEGMENT_SUFFIX, OPEN_SUFFIX)):
                continue
            try:
                stat = entry.stat()
            except FileNotFoundError:  # flushed meanwhile
                continue
            if stat.st_size == 0:
                continue
            segments += 1
            size += stat.st_size
            oldest = stat.st_mtime if oldest is None else min(oldest, stat.st_mtime)
    age = max(0.0, time.time() - oldest) if oldest is not None else 0.0
    return Backlog(segments=segments, bytes=size, oldest_seconds=round(age, 3))


def closed_segments(directory: Path | None = None) -> list[Path]:
    """Closed segments, oldest first."""
    directory = directory or spool_dir()
    if not directory.is_dir():
        return []
    return sorted(directory.glob(f"*{SEGMENT_SUFFIX}"))


def segment_lines(path: Path) -> Iterator[bytes]:
    """The complete lines of a segment; a torn (unterminated) last line is skipped."""
    with path.open("rb") as handle:
        for line in handle:
            if not line.endswith(b"\n"):
                return  # torn by a crash mid-write: it was never acknowledged
            yield line


def read_segment(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a segment (see `segment_lines`)."""
    return (orjson.loads(line) for line in segment_lines(path))


def recover_orphans(directory: Path | None = None) -> list[Path]:
    """Close the open segments of processes that died; the segments closed."""
    directory = directory or spool_dir()
    recovered: list[Path] = []
    if not directory.is_dir():
        return recovered
    for path in sorted(directory.glob(f"*{OPEN_SUFFIX}")):
        with _unlocked(path) as fd:
            if fd is None:
                continue  # a live writer holds it, or it is gone
            if os.fstat(fd).st_size == 0:
                path.unlink(missing_ok=True)
            else:
                closed = path.with_suffix(SEGMENT_SUFFIX)
                os.replace(path, closed)
                recovered.append(closed)
    for path in directory.glob(f"*{NEW_SUFFIX}"):  # a crash between create and lock
        with _unlocked(path) as fd:
            if fd is not None and time.time() - os.fstat(fd).st_mtime > 60:
                path.unlink(missing_ok=True)
    return recovered


@contextlib.contextmanager
def _unlocked(path: Path) -> Iterator[int | None]:
    """`path` opened and locked by us, if no live writer holds it and it is still `path`
    (a writer renames its segment while it holds the lock, then lets go)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except (BlockingIOError, FileNotFoundError):
            same = False
        yield fd if same else None
    finally:
        os.close(fd)


class _Waiter:
    """A thread parked until the writer wakes it: its records are written (`turn` False), or
    it is to write next or to run its exclusive action (`turn` True). `target` is the count
    of records it waits for; 0 for an exclusive action, which waits for no write."""

    __slots__ = ("target", "turn", "_parked")

    def __init__(self, target: int) -> None:
        self.target = target
        self.turn = False
        self._parked = threading.Lock()
        self._parked.acquire()

    def wake(self, turn: bool) -> None:
        self.turn = turn
        self._parked.release()

    def sleep(self, deadline: float) -> bool:
        """False if the deadline passed first."""
        return self._parked.acquire(timeout=max(0.0, deadline - time.monotonic()))


class Spool:
    """The appending side; one per process (see `spool()`)."""

    def __init__(
        self,
        directory: Path,
        *,
        rotate_seconds: float = 1.0,
        rotate_records: int = 50_000,
        max_backlog_bytes: int = 2 * 1024**3,
        min_free_bytes: int = 512 * 1024**2,
    ) -> None:
        self.directory = directory
        self.rotate_seconds = rotate_seconds
        self.rotate_records = rotate_records
        self.max_backlog_bytes = max_backlog_bytes
        self.min_free_bytes = min_free_bytes
        self.directory.mkdir(parents=True, exist_ok=True)
        host = "".join(c for c in socket.gethostname() if c.isalnum())[:40] or "host"
        self._prefix = f"{host}-{os.getpid()}-{time.time_ns()}"
        self._sequence = 0
        self._lock = threading.Lock()
        self._waiters: list[_Waiter] = []  # parked threads, in arrival order
        self._pending: list[bytes] = []
        self._submitted = 0  # records handed to append()
        self._done = 0  # records written or failed: always a prefix of those submitted
        self._failed: list[tuple[int, int, str]] = []  # recent failed ranges [first, end)
        self._fd: int | None = None
        self._path: Path | None = None
        self._opened_at = 0.0
        self._records_in_segment = 0
        self._writing = False  # a thread is writing (or rotating) the segment now
        self._contended = False
        self._closed = False
        self._backlog_checked_at = 0.0
        self._backlog_bytes = 0
        self._stop = threading.Event()
        self._timer = threading.Thread(target=self._rotate_on_time, name="trail-spool", daemon=True)
        self._timer.start()

    # the request side

    def append(self, records: list[dict[str, Any]], timeout: float = 10.0) -> None:
        """Write `records`; return once they are on disk. Raises SpoolFull or OSError."""
        self._check_capacity()
        lines = [
            orjson.dumps(r) + b"\n"  # compact UTF-8; ~8x faster than json.dumps
            for r in records
        ]
        deadline = time.monotonic() + timeout
        self._lock.acquire()
        holding = True
        try:
            if self._closed:
                raise OSError("the spool is closed")
            first = self._submitted
            self._pending.extend(lines)
            self._submitted += len(lines)
            target = self._submitted
            while self._done < target:
                if not self._writing:
                    self._write_pending()  # become the writer for everything pending
                    continue
                holding = self._park(
                    _Waiter(target), deadline, "the spool did not confirm the write in time"
                )
                if not holding:
                    break  # written by another thread
        finally:
            if holding:
                self._lock.release()
        for start, end, reason in self._failed:
            if start < target and first < end:
                raise OSError(f"the spool cannot write: {reason}")

    @property
    def appended(self) -> int:
        """Records handed to `append()` by this process so far."""
        return self._submitted

    def rotate(self, timeout: float = 10.0) -> None:
        """Close the open segment now (so the flush can take it); return once closed."""
        self._exclusive(self._close, timeout)

    def _exclusive(self, action: Any, timeout: float = 10.0) -> None:
        """Run `action` as the writer (no write in progress), pending records first."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._writing:
                self._park(_Waiter(0), deadline, "the spool is busy")
            if self._pending:
                self._write_pending()
            self._writing = True
            failure = self._unlocked(action)
            if failure is not None:
                self._abandon_segment()
            self._release_writer()
        if failure is not None:
            raise OSError(f"the spool cannot write: {failure}")

    def _park(self, waiter: _Waiter, deadline: float, late: str) -> bool:
        """Called holding `_lock` while another thread writes: wait, without the lock, for
        the writer to wake `waiter`. Returns False, not holding the lock, when its records
        are written; True, holding it again, when it has the next turn. Raises
        OSError(late), holding the lock, if the deadline passes first."""
        self._waiters.append(waiter)
        self._lock.release()
        woken = waiter.sleep(deadline)
        if woken and not waiter.turn:
            return False
        self._lock.acquire()
        if not woken:
            if waiter in self._waiters:  # not woken: gone from the queue, it is owed nothing
                self._waiters.remove(waiter)
                raise OSError(late)
            waiter.sleep(deadline)  # woken as the deadline passed: take the wake-up
            if not waiter.turn:
                self._lock.release()
                return False
        return True

    def _release_writer(self) -> None:
        """Called holding `_lock` as a write (or an exclusive action) ends: wake the threads
        whose records are written, each on its own; hand the next turn to the first of the
        others (its records arrived during this write), and to exclusive actions."""
        self._writing = False
        waiting = []
        for waiter in self._waiters:
            if not waiter.target:
                waiter.wake(turn=True)
            elif waiter.target <= self._done:
                waiter.wake(turn=False)
            else:
                waiting.append(waiter)
        if waiting:
            waiting.pop(0).wake(turn=True)
        self._waiters = waiting

    def _write_pending(self) -> None:
        """Called holding `_lock`, with no write in progress: write and fsync what is
        pending outside the lock (others keep appending), then wake the waiters.

        Under contention (records arrived while the previous write was in progress) the
        writer first waits `COMMIT_DELAY` for more records to share the fsync: an
        fdatasync costs ~70 µs of CPU here, whatever it writes. Otherwise it writes at
        once, so a quiet site or a lone client pays no delay.
        """
        self._writing = True
        if self._contended:
            self._unlocked(lambda: time.sleep(COMMIT_DELAY))
        batch, self._pending = self._pending, []
        first = self._done
        failure = self._unlocked(lambda: self._write(batch))
        if failure is not None:  # these appends fail (503); later ones start a new segment
            self._failed = [*self._failed[-50:], (first, first + len(batch), str(failure))]
            self._abandon_segment()
        self._done += len(batch)
        self._contended = bool(self._pending)  # others came while this write ran
        self._release_writer()

    def _unlocked(self, action: Callable[[], object]) -> OSError | None:
        """Run `action` without holding `_lock` (called holding it, as the writer); the
        OSError it raised, if any."""
        self._lock.release()
        try:
            action()
        except OSError as exc:
            return exc
        finally:
            self._lock.acquire()
        return None

    def _abandon_segment(self) -> None:
        """After a failed write: let go of the segment (its lock with it), so the flush
        recovers what reached it as an orphan and the next write starts a new one. Lines
        of the failed appends that did reach it are flushed too: at least once, never lost
        (their clients got a 503 and may send them again)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = None
        self._path = None

    def _check_capacity(self) -> None:
        now = time.monotonic()
        if now - self._backlog_checked_at > 0.5:
            self._backlog_checked_at = now
            self._backlog_bytes = backlog(self.directory).bytes
            usage = os.statvfs(self.directory)
            if usage.f_bavail * usage.f_frsize < self.min_free_bytes:
                self._backlog_bytes = max(self._backlog_bytes, self.max_backlog_bytes + 1)
        if self._backlog_bytes > self.max_backlog_bytes:
            raise SpoolFull("the ingest backlog is over its cap")

    # writing (by whichever thread is the writer)

    def _open(self) -> int:
        """A new segment, locked *before* it is visible as `.open`: `recover_orphans()` in
        another process takes any unlocked `.open` file for a dead writer's (a test under
        load caught it taking a segment between its creation and its lock)."""
        self._sequence += 1
        self._path = self.directory / f"{self._prefix}-{self._sequence:08d}{OPEN_SUFFIX}"
        new = self._path.with_suffix(NEW_SUFFIX)
        fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # blocking: an orphan hunter may look at it briefly
            os.replace(new, self._path)
        except OSError:
            os.close(fd)
            raise
        self._fd = fd
        self._opened_at = time.monotonic()
        self._records_in_segment = 0
        return fd

    def _close(self) -> None:
        """Rename (or remove, if empty) the segment while still holding its lock, then
        let go: an orphan hunter never sees an unlocked `.open` of a live writer."""
        if self._fd is None or self._path is None:
            return
        try:
            if self._records_in_segment:
                os.replace(self._path, self._path.with_suffix(SEGMENT_SUFFIX))
                self._fsync_directory()
            else:
                self._path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None
            self._path = None

    def _fsync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _write(self, batch: list[bytes]) -> None:
        fd = self._fd if self._fd is not None else self._open()
        data = memoryview(b"".join(batch))
        while data:  # a write to a regular file may still be short (disk full)
            data = data[os.write(fd, data) :]
        os.fdatasync(fd)
        self._records_in_segment += len(batch)
        if self._rotation_due():
            self._close()

    def _rotate_on_time(self) -> None:
        """Close a segment that is due even when no request comes to write."""
        while not self._stop.wait(self.rotate_seconds / 4):
            if self._rotation_due():
                try:
                    self._exclusive(self._close_if_due)
                except OSError:
                    logger.exception("the spool could not close a segment; it starts a new one")

    def _close_if_due(self) -> None:
        if self._rotation_due():
            self._close()

    def _rotation_due(self) -> bool:
        if self._fd is None:
            return False
        return (
            self._records_in_segment >= self.rotate_records
            or time.monotonic() - self._opened_at >= self.rotate_seconds
        )

    def close(self) -> None:
        """Write what is pending, close the open segment, refuse further appends."""
        self._stop.set()
        try:
            self._exclusive(self._close)
        finally:
            with self._lock:
                self._closed = True
        self._timer.join(10)


_spool: Spool | None = None
_guard = threading.Lock()


def spool() -> Spool:
    """This process's spool (created on first use)."""
    global _spool
    if _spool is None:
        with _guard:
            if _spool is None:
                ingest = settings.TRAIL.ingest
                _spool = Spool(
                    spool_dir(),
                    max_backlog_bytes=ingest.spool_max_bytes,
                    min_free_bytes=ingest.spool_min_free_bytes,
                )
    return _spool
