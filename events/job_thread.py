"""The job thread: a daemon thread that runs every periodic job (`events/jobs.py`) on
schedule in the serving process — the spool's flush, salt rotation, the purge of deleted
sites, and any other job registered.

Embedded mode's stand-in for Celery beat + workers. A failing job is logged and retried
on its next turn; it never stops the thread or the other jobs.
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
        self._thread: threading.Thread | None = None
        self._soon: set[str] = set()
        self._soon_guard = threading.Lock()
        self.runs: dict[str, int] = {}

    def run_soon(self, name: str) -> None:
        """Run `name` on the next tick instead of waiting for its turn."""
        with self._soon_guard:
            self._soon.add(name)

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="trail-jobs", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        due: dict[str, float] = {}
        while not self._stop.is_set():
            now = time.monotonic()
            with self._soon_guard:
                soon, self._soon = self._soon, set()
            for name in soon:
                due[name] = now
            for job in jobs.registered():
                if self._only is not None and job.name not in self._only:
                    continue
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
