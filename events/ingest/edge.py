"""Accepting events: run the drop steps, then make the survivors durable in the spool.

Both entry points use it: the lean route of the browser endpoints (`events.ingest.handler`,
behind its WSGI and ASGI adapters) and the batch API (`events.api`). Nothing
here calls PostgreSQL, Redis or Celery per event: sites come from the in-process directory,
the spool is a local file, dropped events are counted in memory (`events.ingest.drops`), and
the rate limit leases tokens from Redis in chunks (`events.limits.ratelimit`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from common.metrics import ingest_outcome
from events.ingest.drops import DropCounter, counter
from events.ingest.sites import directory
from events.ingest.steps import Drop, Incoming, Step, pipeline, run
from events.limits import ratelimit
from events.record import to_record
from events.spool import Spool, SpoolFull, spool

logger = logging.getLogger(__name__)


class IngestUnavailable(Exception):
    """Nothing of the request was accepted: answer 503 with `Retry-After`."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Outcome:
    accepted: int
    drops: tuple[tuple[int, str], ...]  # (index, DropReason) of the dropped events


class Collector:
    def __init__(self, steps: list[Step], sink: Spool, drops: DropCounter = counter) -> None:
        self.steps = steps
        self.sink = sink
        self.drops = drops

    def accept(self, incomings: Sequence[Incoming]) -> Outcome:
        """Run the steps; write the survivors to the spool and return once they are on disk.

        Raises `IngestUnavailable` (the backlog is over its cap, or the spool cannot
        write): nothing was accepted.
        """
        records, drops = [], []
        for index, item in enumerate(incomings):
            result = run(item, self.steps)
            if isinstance(result, Drop):
                drops.append((index, result.reason.value))
                self.drops.record(item, result.reason)
                continue
            assert result.site is not None  # noqa: S101 (resolve_site ran)
            records.append(
                to_record(
                    result.event,
                    site_id=result.site.id,
                    ip=result.ip,
                    user_agent=result.user_agent,
                    received_at=result.received_at,
                )
            )
        if records:
            try:
                self.sink.append(records)
            except SpoolFull:
                raise IngestUnavailable("the ingest backlog is full: retry later", 30) from None
            except OSError:
                logger.exception("the spool cannot write: answering 503")
                raise IngestUnavailable(
                    "events cannot be stored right now: retry later", 5
                ) from None
        ingest_outcome(len(records), drops)  # per call, not per event (common.metrics)
        return Outcome(accepted=len(records), drops=tuple(drops))


_collector: Collector | None = None
_guard = threading.Lock()


def collector() -> Collector:
    """This process's collector (built on first use, once settings are loaded)."""
    global _collector
    if _collector is None:
        with _guard:
            if _collector is None:
                limit = ratelimit.for_settings()  # Redis-shared in services mode
                _collector = Collector(pipeline(directory, limit), spool())
    return _collector


def reset_collector() -> None:
    """Forget the collector (tests that change settings)."""
    global _collector
    with _guard:
        _collector = None
