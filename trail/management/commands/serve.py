"""`serve`: run Trail under granian, the production WSGI server.

Embedded mode: exactly one worker process (it alone opens chDB) with a thread pool.
Services mode: `--workers N` processes.

Slow clients (docs/deploy.md): granian serves its ASGI interface, and `trail.gate` reads
each request's body on the event loop, within TRAIL_BODY_TIMEOUT, before Trail's WSGI
application runs in the worker's pool of `--threads` threads.

Stopping (docs/architecture.md): SIGINT or SIGTERM, to the supervisor or to the whole
process group, stops the workers in order and exits; a worker that has not exited after
WORKERS_KILL_TIMEOUT seconds is killed (what it accepted is on disk in the spool).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.ingest import asgi as ingest
from events.ingest.handler import ROUTES as INGEST_ROUTES
from reports.imports import services as imports
from reports.imports.api import UPLOAD_PATH
from trail import preflight, runtime
from trail.gate import Gate, Uploads

APPLICATION = "trail.wsgi:application"
WORKERS_KILL_TIMEOUT = 5  # seconds; granian takes whole seconds
THREADS_VARIABLE = "WEB_THREADS"  # how the workers learn `--threads`
HEADER_TIMEOUT_CAP = 60_000  # ms: the longest header read timeout granian accepts


def load_application(target: str) -> Any:
    """How a granian worker loads Trail: stop signals routed first, before any thread starts;
    the WSGI application behind the gate, the browser ingest paths answered by the gate
    directly (no WSGI environ; the same handler); then the loaded heap is settled (fewer,
    shorter collector pauses: `runtime.settle_heap`)."""
    runtime.route_stop_signals(supervisor=os.getppid())
    module, name = target.split(":")
    wsgi_app = getattr(importlib.import_module(module), name)
    gate = Gate(
        wsgi_app,
        threads=int(os.environ[THREADS_VARIABLE]),
        body_timeout=settings.TRAIL.body_timeout,
        max_per_client=settings.TRAIL.max_connections_per_ip,
        max_body=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
        uploads=Uploads(
            path=UPLOAD_PATH, max_bytes=imports.max_bytes(), directory=imports.upload_dir()
        ),
        direct=dict.fromkeys(INGEST_ROUTES, ingest.direct),
    )
    runtime.settle_heap()  # last: what is loaded by now lives as long as the worker
    return gate


class Command(BaseCommand):
    help = "Serve Trail with granian (one process in embedded mode)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", "1")))
        parser.add_argument("--threads", type=int, default=int(os.environ.get("WEB_THREADS", "16")))

    def handle(self, *args: Any, **options: Any) -> None:
        from granian.constants import Interfaces
        from granian.http import HTTP1Settings
        from granian.server import Server

        # First: no thread may start before the stop signals are routed (the checks below
        # open the services' clients, and a server ClickHouse client starts threads).
        runtime.route_stop_signals()
        embedded = settings.CLICKHOUSE.embedded
        if embedded and options["workers"] != 1:
            raise CommandError(
                "WEB_WORKERS: embedded mode serves from one process (chDB allows one per "
                "data directory); set CLICKHOUSE_URL to run several workers"
            )
        preflight.check_all()
        mode = "embedded" if embedded else "services"
        self.stdout.write(
            f"Trail ({mode} mode) on http://{options['host']}:{options['port']}/ "
            f"({options['workers']} worker(s), {options['threads']} threads each)"
        )
        os.environ[THREADS_VARIABLE] = str(options["threads"])
        header_timeout = min(settings.TRAIL.body_timeout * 1000, HEADER_TIMEOUT_CAP)
        Server(
            APPLICATION,
            address=options["host"],
            port=options["port"],
            interface=Interfaces.ASGINL,
            workers=options["workers"],
            http1_settings=HTTP1Settings(header_read_timeout=header_timeout),
            respawn_failed_workers=not embedded,
            workers_kill_timeout=WORKERS_KILL_TIMEOUT,
            log_access=False,
        ).serve(target_loader=load_application)
