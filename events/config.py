"""The events app's configuration types: how events are flushed, where ClickHouse is, and
the ingest limits. `trail.config` reads the environment into them (the project imports
its apps' types, never the other way round).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from common.clients import IPNetwork


class FlushMode(StrEnum):
    THREAD = "thread"  # in-process flusher thread (embedded)
    CELERY = "celery"  # Celery workers + beat on Redis (services)


@dataclass(frozen=True)
class ClickHouseConfig:
    url: str | None  # None: embedded chDB
    data_dir: Path
    cluster: str | None

    @property
    def embedded(self) -> bool:
        return self.url is None


@dataclass(frozen=True)
class IngestConfig:
    trusted_proxies: tuple[IPNetwork, ...]  # peers whose X-Forwarded-For is believed
    spool_max_bytes: int  # backlog cap: over it, ingest answers 503 + Retry-After
    spool_min_free_bytes: int  # free disk under it: 503 as well
    site_events_per_second: float  # per site (shared by all processes via Redis); 0 = unlimited
    geoip_database: Path | None  # a MaxMind/DB-IP City .mmdb chosen by the user
    flush_nice: int  # the Celery worker's CPU niceness: ingest first, the flush after
