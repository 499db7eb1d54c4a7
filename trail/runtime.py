"""What a serving process starts beside the request handlers.

`start()` is called once the WSGI/ASGI application is loaded, i.e. only in the process that
serves (never in `runserver`'s autoreloader parent or in management commands). In embedded
mode it takes the ClickHouse data directory for this process and starts the job thread.

`route_stop_signals()` is for `manage.py serve`'s processes (docs/architecture.md,
"Stopping"): SIGINT and SIGTERM are taken by one thread of the process instead of by
whichever thread the kernel picks.
"""

from __future__ import annotations

import _thread
import asyncio.unix_events
import gc
import logging
import os
import signal
import threading

from django.conf import settings

from trail.config import FlushMode

logger = logging.getLogger(__name__)

STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})
# How long a worker waits for its supervisor's SIGTERM after a stop signal from elsewhere
# (a terminal's Ctrl-C reaches the whole process group at once). Short: the supervisor's
# SIGTERM can merge into a pending group SIGTERM (one signal number is pending once), and
# then the worker waits the whole time.
IN_ORDER_WAIT = 0.5

# What `loop.add_signal_handler` installs (granian's ASGI workers): the signal itself must
# reach the C handler, which wakes the loop through its wakeup fd; calling this does nothing.
_LOOP_SIGNAL_HANDLER = asyncio.unix_events._sighandler_noop  # type: ignore[attr-defined]

_routed_in: int | None = None  # the pid whose stop signals are routed (a fork has none)
# Allocations between two young collections once the heap is settled (CPython's default:
# 700). Fewer, larger young collections; the old generation is scanned as rarely as before.
YOUNG_THRESHOLD = 20_000


def start() -> None:
    if settings.CLICKHOUSE.embedded:
        from events.clickhouse import lock

        lock.acquire(settings.CLICKHOUSE.data_dir)
    if settings.TRAIL.flush_mode is FlushMode.THREAD:
        from events import data_jobs
        from events.job_thread import job_thread

        job_thread.start()
        data_jobs.recover()  # what a crash left running fails, what was queued runs
        data_jobs.runner.start()
        logger.info("in-process job thread and data job runner started")


def route_stop_signals(*, supervisor: int | None = None) -> None:
    """Block SIGINT and SIGTERM in this thread and take them in a `trail-stop-signals` thread.

    Call it in the main thread before any other thread starts: threads inherit the blocked
    mask, so no thread (the job thread, chDB's pools, granian's runtime) can take a stop signal
    that the main thread, asleep in an untimed lock wait, would then never see. The first
    stop signal is handed to the handler the main thread installed (granian's), later ones
    change nothing. With `supervisor` (a worker's parent pid) a stop signal from anyone
    else waits up to IN_ORDER_WAIT seconds for the supervisor's SIGTERM, so the supervisor
    stops its workers in order rather than finding them gone.
    """
    global _routed_in
    if _routed_in == os.getpid():
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    threading.Thread(
        target=_take_stop_signals, args=(supervisor,), name="trail-stop-signals", daemon=True
    ).start()
    _routed_in = os.getpid()


def _take_stop_signals(supervisor: int | None) -> None:
    first = signal.sigwaitinfo(STOP_SIGNALS)
    signum = first.si_signo
    if supervisor is not None and first.si_pid != supervisor:
        ordered = signal.sigtimedwait(STOP_SIGNALS, IN_ORDER_WAIT)
        signum = ordered.si_signo if ordered is not None else signum
    _act_on(signal.Signals(signum))
    while True:
        later = signal.sigwait(STOP_SIGNALS)
        logger.info("%s while stopping: already stopping", signal.Signals(later).name)


def _act_on(sig: signal.Signals) -> None:
    """What the signal would have done in the main thread."""
    handler = signal.getsignal(sig)
    if handler is signal.default_int_handler:
        _thread.interrupt_main(sig)  # KeyboardInterrupt in the main thread
    elif callable(handler) and handler is not _LOOP_SIGNAL_HANDLER:
        try:
            handler(sig, None)
        except Exception:
            logger.exception("the %s handler failed", sig.name)
    else:  # the kernel's disposition (default, ignored, native, or an asyncio loop's wakeup)
        signal.pthread_kill(threading.get_ident(), sig)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
        signal.pthread_sigmask(signal.SIG_BLOCK, {sig})


def settle_heap() -> None:
    """Once the application is loaded: move every object alive now (Django, the URL
    patterns, the settings, the imported modules) out of the collector's reach
    (`gc.freeze`), and collect the young generation less often. A full collection then
    scans only what was made since, not the whole loaded application: measured 66–98 ms
    per full collection in the embedded server under load before, each one a pause of
    every request (docs/benchmarks.md, "Stop 33", "The embedded server's pauses")."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
