"""The on-disk spool where accepted events wait for the flusher.

Segments are files under `<TRAIL_VAR_DIR>/spool/`; `backlog()` measures what waits.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings

SEGMENT_SUFFIX = ".seg"


def spool_dir() -> Path:
    return Path(settings.TRAIL.var_dir) / "spool"


@dataclass(frozen=True)
class Backlog:
    segments: int
    bytes: int
    oldest_seconds: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def backlog() -> Backlog:
    segments, size, oldest = 0, 0, None
    directory = spool_dir()
    if directory.is_dir():
        for path in directory.glob(f"*{SEGMENT_SUFFIX}"):
            try:
                stat = path.stat()
            except FileNotFoundError:  # flushed meanwhile
                continue
            segments += 1
            size += stat.st_size
            oldest = stat.st_mtime if oldest is None else min(oldest, stat.st_mtime)
    age = max(0.0, time.time() - oldest) if oldest is not None else 0.0
    return Backlog(segments=segments, bytes=size, oldest_seconds=round(age, 3))
