"""What a metric update costs on the ingest path, in prometheus-client's multiprocess mode
(the mode Trail runs in: values in mmap files under var/metrics, docs/metrics.md).

    .venv/bin/python bench/metrics_cost.py [updates]

Prints ns per update for: a bare counter `inc()`; a labelled child `inc()`; the call
`Collector.accept` makes per request (`ingest_outcome`: one accepted event, no drop; then
1 accepted + 1 dropped: added in memory, written to the files once a second); a histogram `observe()`; the same in single-process mode (a
second interpreter without PROMETHEUS_MULTIPROC_DIR) for comparison; and the update under
4 threads (the lock is process-wide in multiprocess mode).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 200_000
SINGLE = "--single" in sys.argv

if not SINGLE:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="trail-metrics-bench-")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from common import metrics  # noqa: E402


def per_call(action, n: int = N) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter_ns()
        for _ in range(n):
            action()
        best = min(best, (time.perf_counter_ns() - started) / n)
    return best


def empty() -> None:
    pass


def threaded(action, threads: int = 4) -> float:  # type: ignore[no-untyped-def]
    each = N // threads

    def work() -> None:
        for _ in range(each):
            action()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    started = time.perf_counter_ns()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return (time.perf_counter_ns() - started) / (each * threads)


def main() -> None:
    mode = "single-process" if SINGLE else "multiprocess"
    loop = per_call(empty)
    child = metrics.EVENTS_DROPPED.labels("bot")
    one: list[tuple[int, str]] = []
    dropped = [(1, "bot")]
    guard, counts = threading.Lock(), {"a": 0}

    def reference() -> None:  # what any shared counter costs at least: a lock and an add
        with guard:
            counts["a"] += 1

    rows = {
        "reference: lock + dict add": per_call(reference),
        "counter inc()": per_call(metrics.EVENTS_ACCEPTED.inc),
        "labelled child inc()": per_call(child.inc),
        "ingest_outcome(1, [])": per_call(lambda: metrics.ingest_outcome(1, one)),
        "ingest_outcome(1, [bot])": per_call(lambda: metrics.ingest_outcome(1, dropped)),
        "histogram observe()": per_call(lambda: metrics.FLUSH_BATCH.observe(100)),
        "counter inc(), 4 threads": threaded(metrics.EVENTS_ACCEPTED.inc),
        "ingest_outcome, 4 threads": threaded(lambda: metrics.ingest_outcome(1, one)),
    }
    load = os.getloadavg()[0]
    print(f"{mode} mode, {N} updates, best of 3, empty loop {loop:.0f} ns subtracted,")
    print(f"  load average {load:.1f} on {os.cpu_count()} CPUs (a busy machine scales all rows)")
    for name, ns in rows.items():
        print(f"  {name:<28} {ns - loop:7.0f} ns")


if __name__ == "__main__":
    main()
    metrics.publish()
    if not SINGLE:
        sys.stdout.flush()
        subprocess.run([sys.executable, __file__, str(N), "--single"], check=True)  # noqa: S603
