"""How `manage.py backup` asks a running embedded Trail to take the backup.

chDB admits one process per data directory, so while `manage.py serve` runs, the command
cannot read ClickHouse itself. It leaves a request in `var/control/` instead, and the
serving process's job thread (a periodic job, every second) takes it:

1. the command writes `backup-<id>.request` (`{"output": "/absolute/dir"}`) atomically
   (a temporary name, then a rename);
2. the serving process claims it by renaming it to `backup-<id>.running` (one claimer),
   takes the backup in a thread of its own (`trail.backup.take`), and reports in
   `backup-<id>.status` (`{"state": "running"|"done"|"failed", "lines": [...], "rows":
   [done, total], "error": ...}`), rewritten atomically at most twice a second;
3. the command prints the status's new lines until the state is `done` or `failed`.

Why files and not an HTTP endpoint: `var/` is private to the user Trail runs as (0700,
`trail.private`), so only that user can ask for a backup; nothing listens on a port, no
request from the network (a reverse proxy on the same host makes every request look like
loopback) can reach it, and no token has to be kept. A request names only an absolute
output directory, which must be absent or empty; anything else fails with a message.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from trail.backup.manifest import BackupError

logger = logging.getLogger(__name__)

CHANNEL_JOB = "trail.backup.requests"
CLAIM_WAIT = 20.0  # seconds for the serving process to take a request
STALL = 180.0  # seconds without a status update before the command gives up
_WRITE_EVERY = 0.5


def control_dir() -> Path:
    return Path(settings.TRAIL.var_dir) / "control"


def _write_json(path: Path, body: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    temporary.write_text(json.dumps(body))
    temporary.rename(path)


class Status:
    """The serving process's side: the request's status file, also its progress bar."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.body: dict[str, Any] = {"state": "running", "lines": [], "rows": [0, 0]}
        self.written = 0.0
        self.write(force=True)

    def write(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.written >= _WRITE_EVERY:
            self.written = now
            _write_json(self.path, self.body)

    def line(self, text: str) -> None:
        self.body["lines"].append(text)
        self.write(force=True)

    def start(self, total_rows: int) -> None:
        self.body["rows"] = [0, total_rows]
        self.write(force=True)

    def advance(self, chunk: Any) -> None:
        self.body["rows"][0] += chunk.rows
        self.write()

    def finish(self) -> None:
        self.write(force=True)

    def end(self, state: str, error: str = "") -> None:
        self.body |= {"state": state, "error": error}
        self.write(force=True)


def serve_requests() -> None:
    """The periodic job: claim each waiting request and take its backup in a thread."""
    directory = control_dir()
    if not directory.is_dir():
        return
    for request in sorted(directory.glob("backup-*.request")):
        running = request.with_suffix(".running")
        try:
            request.rename(running)
        except FileNotFoundError:
            continue  # withdrawn by its command
        threading.Thread(target=_serve, args=(running,), name="trail-backup", daemon=True).start()


def _serve(running: Path) -> None:
    from trail.backup.take import take

    status = Status(running.with_suffix(".status"))
    try:
        output = _output_of(running)
        take(output, log=status.line, progress=status)
        status.end("done")
    except BackupError as exc:
        status.end("failed", str(exc))
    except Exception as exc:
        logger.exception("the backup asked for through %s failed", running.name)
        status.end("failed", f"{type(exc).__name__}: {exc}")
    finally:
        running.unlink(missing_ok=True)
        connection.close()  # this thread's accounts database connection


def _output_of(request: Path) -> Path:
    try:
        body = json.loads(request.read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"unreadable backup request: {exc}") from None
    output = body.get("output") if isinstance(body, dict) else None
    if not isinstance(output, str) or not os.path.isabs(output) or "\x00" in output:
        raise BackupError("a backup request must name an absolute output directory")
    return Path(output)


def request_backup(output: Path, *, log: Any, holder: str = "") -> dict[str, Any]:
    """The command's side: ask the serving process, print its lines, return its last status."""
    directory = control_dir()
    directory.mkdir(mode=0o700, exist_ok=True)
    ident = uuid.uuid4().hex
    request = directory / f"backup-{ident}.request"
    status_path = directory / f"backup-{ident}.status"
    _write_json(request, {"output": str(output.resolve())})
    log(f"Trail is running{f' (pid {holder})' if holder else ''}: it takes the backup")
    asked, seen, last_change, last_rows = time.monotonic(), 0, time.monotonic(), -1
    try:
        while True:
            time.sleep(0.2)
            if request.exists():
                if time.monotonic() - asked > CLAIM_WAIT:
                    request.unlink(missing_ok=True)
                    raise BackupError(
                        "the running Trail did not take the backup request within"
                        f" {CLAIM_WAIT:.0f} s: is it `manage.py serve` (its job thread takes"
                        " requests)? Stop whatever else holds the data directory, then retry"
                    )
                continue
            try:
                status = json.loads(status_path.read_text())
            except (OSError, ValueError):
                status = None
            if status is None:
                if time.monotonic() - last_change > STALL:
                    raise BackupError("the running Trail took the request but wrote no status")
                continue
            lines = status.get("lines", [])
            for line in lines[seen:]:
                log(line)
            done, total = status.get("rows", [0, 0])
            if len(lines) != seen or done != last_rows:
                seen, last_rows, last_change = len(lines), done, time.monotonic()
                if total:
                    log(f"ClickHouse: {done:,} / {total:,} rows ({100 * done / total:.0f} %)")
            if status.get("state") == "done":
                return dict(status)
            if status.get("state") == "failed":
                raise BackupError(str(status.get("error") or "the backup failed"))
            if time.monotonic() - last_change > STALL:
                raise BackupError(f"the running Trail's backup made no progress for {STALL:.0f} s")
    finally:
        status_path.unlink(missing_ok=True)
