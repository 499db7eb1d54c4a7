"""What a serving process starts beside the request handlers.

Called once the WSGI/ASGI application is loaded, i.e. only in the process that serves
(never in `runserver`'s autoreloader parent or in management commands). In embedded mode
it takes the ClickHouse data directory for this process and starts the flusher thread.
"""

from __future__ import annotations

import logging

from django.conf import settings

from trail.config import FlushMode

logger = logging.getLogger(__name__)


def start() -> None:
    if settings.CLICKHOUSE.embedded:
        from events.clickhouse import lock

        lock.acquire(settings.CLICKHOUSE.data_dir)
    if settings.TRAIL.flush_mode is FlushMode.THREAD:
        from events.flusher import flusher

        flusher.start()
        logger.info("in-process flusher started")
