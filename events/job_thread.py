"""The job thread: a daemon thread that runs every periodic job (`events/jobs.py`) on
schedule in the serving process — the spool's flush, salt rotation, the purge of deleted
sites, and any other job registered.

Embedded mode's stand-in for Celery beat + workers. A failing job is logged and retried
on its next turn; it never stops the thread or the other jobs. Jobs that send to other
hosts (`Job.outbound`: destinations, alerts and their deliveries, email reports, quota
mails) run in a second thread, the outbound lane, so that a receiver that answers slowly
or not at all delays only them, never the flush.
"""

from __future__ import annotations

import logging
import threading
import time

from events import jobs

logger = logging.getLogger(__name__)


class JobThread:
    def __init__(self, tick: float = 0.2, only: set[str] | None = None) -> None:
        self._tick = tick
        self._only = only  # run just these jobs (tests); None: every registered job
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._soon: set[str] = set()
        self._soon_guard = threading.Lock()
        self.runs: dict[str, int] = {}

    def run_soon(self, name: str) -> None:
        """Run `name` on the next tick instead of waiting for its turn."""
        with self._soon_guard:
            self._soon.add(name)

    def start(self) -> None:
        if self.alive:
            return
        self.stop()
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._loop, args=(outbound,), name=name, daemon=True)
            for outbound, name in ((False, "trail-jobs"), (True, "trail-jobs-outbound"))
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    @property
    def alive(self) -> bool:
        return bool(self._threads) and all(thread.is_alive() for thread in self._threads)

    def _loop(self, outbound: bool) -> None:
        due: dict[str, float] = {}
        while not self._stop.is_set():
            now = time.monotonic()
            lane = [
                job
                for job in jobs.registered()
                if job.outbound is outbound and (self._only is None or job.name in self._only)
            ]
            with self._soon_guard:
                for job in lane:
                    if job.name in self._soon:
                        self._soon.discard(job.name)
                        due[job.name] = now
            for job in lane:
                if due.setdefault(job.name, now) > now:
                    continue
                due[job.name] = time.monotonic() + job.every  # from its start, not the tick's
                try:
                    jobs.run(job.name)
                except Exception:
                    logger.exception(
                        "periodic job %s failed; it runs again in %ss", job.name, job.every
                    )
                self.runs[job.name] = self.runs.get(job.name, 0) + 1
            self._stop.wait(self._tick)


job_thread = JobThread()
