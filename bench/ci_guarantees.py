"""The short chaos and load runs CI keeps (issue 21): services mode, exit status 1 on loss,
duplicates or errors, one summary line of figures each.

    .venv/bin/python bench/ci_guarantees.py chaos [--events 10000] [--browser-events 2000]
    .venv/bin/python bench/ci_guarantees.py load [--rate 1050] [--duration 20]

Both start Trail as bench/trail_proc.py does (PostgreSQL, Redis, a ClickHouse HTTP server, a
web server, a Celery worker and beat) on a database, a Redis database and a var directory of
their own (`trail_ci_guarantees`, `redis://127.0.0.1:6379/5`, a fresh temporary
directory), so they never meet the test suites' or the benchmarks' data.

chaos: the senders of bench/chaos.py (batch API with client event ids, retried until 2xx;
browser endpoint, sent once each with a unique `seq`) while exactly three SIGKILLs land,
each at a fixed share of the batch events accepted so far: the web server at 20 %, the
Celery worker at 45 %, the web server again at 70 %; each process is started again at
once. After the spool drained, ClickHouse must hold every batch event id exactly once,
every 2xx-answered browser `seq` exactly once, and no other row except for requests whose
answer a kill cut off. The long version (100,000 events, 6 kills, a ClickHouse outage)
stays in bench/chaos.py.

load: open-loop `POST /api/event` at `--rate` for `--duration` seconds through
bench/loadgen (built with `cc`; without a C compiler, a paced Python sender), 2 web
workers; fails unless the achieved rate is at least 1,000 events/s, every answer was 2xx,
no request failed, and ClickHouse holds one row per 2xx answer, each event id once. The
long version stays in bench/ingest_load.py.
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from chaos import DOMAIN as CHAOS_DOMAIN
from chaos import Tally, start_senders
from ingest_load import DOMAIN as LOAD_DOMAIN
from ingest_load import build_loadgen, drive, serve_site
from trail_proc import Trail

DATABASE = "trail_ci_guarantees"
REDIS_URL = "redis://127.0.0.1:6379/5"
KILLS = ((0.20, "web"), (0.45, "worker"), (0.70, "web"))  # share of batch events accepted
MIN_RATE = 1000  # events/s the load run must deliver
SENDERS = 4  # batch-API sender threads of the chaos run


def trail(workers: int) -> Trail:
    return Trail(mode="services", workers=workers, database=DATABASE, redis_url=REDIS_URL)


def wait_for_drain(run: Trail, limit: float = 300) -> float:
    """Seconds until the spool holds no event (every one flushed to ClickHouse)."""
    started = time.monotonic()
    spool = run.var / "spool"
    while any(spool.glob("*.seg")) or any(p.stat().st_size for p in spool.glob("*.open")):
        if time.monotonic() - started > limit:
            raise SystemExit(f"FAIL: the spool did not drain within {limit:.0f} s")
        time.sleep(0.5)
    return time.monotonic() - started


def verdict(run: Trail, ok: bool) -> bool:
    """`ok`, the summary flushed and the run's data removed when it is (kept to look into
    when it is not)."""
    sys.stdout.flush()
    if ok:
        shutil.rmtree(run.var, ignore_errors=True)
    return ok


def chaos(args: argparse.Namespace) -> bool:
    run = trail(workers=1)
    run.prepare()
    run.start()
    run.add_site(CHAOS_DOMAIN)
    tally, stop = Tally(), threading.Event()
    started = time.monotonic()
    threads = start_senders(
        run.base, run.key, args.events, args.browser_events, SENDERS, tally, stop
    )
    kills: list[str] = []
    late = False
    for share_done, victim in KILLS:
        while tally.batch_accepted < share_done * args.events:
            if not any(t.is_alive() for t in threads[:SENDERS]):
                break
            time.sleep(0.01)
        if tally.batch_accepted >= args.events:
            late = True  # the senders were done: this kill would not be "during the sending"
        run.kill(victim, signal.SIGKILL)
        kills.append(f"{victim} at {tally.batch_accepted:,} ({time.monotonic() - started:.1f} s)")
        print(f"SIGKILL {kills[-1]}", flush=True)
        run.restart(victim)
    for thread in threads:
        thread.join()
    sent_for = time.monotonic() - started
    drained = wait_for_drain(run)
    try:
        [batch] = run.query(
            "SELECT count() AS n, uniqExact(event_id) AS ids FROM events WHERE name = 'pageview'"
        )
        browser = run.query(
            "SELECT props['seq'] AS seq, count() AS n FROM events WHERE name = 'Chaos' GROUP BY seq"
        )
    finally:
        run.stop()
    stored = {int(str(row["seq"])): int(str(row["n"])) for row in browser}
    rows, ids = int(str(batch["n"])), int(str(batch["ids"]))
    lost = [s for s in tally.browser_accepted if stored.get(s, 0) == 0]
    twice = [s for s, n in stored.items() if n > 1]
    unexplained = [
        s for s in stored if s not in tally.browser_accepted and s not in tally.browser_unknown
    ]
    ok = (
        not late
        and rows == ids == tally.batch_accepted == args.events
        and not lost
        and not twice
        and not unexplained
    )
    print(f"kills: {'; '.join(kills)}; answers: {dict(sorted(tally.statuses.items()))}")
    print(
        f"chaos {'OK' if ok else 'FAIL'}: {args.events + args.browser_events:,} events sent in "
        f"{sent_for:.1f} s with SIGKILL x3 (web, worker, web{', one too late' if late else ''}); "
        f"batch API {tally.batch_accepted:,} accepted, {rows:,} rows, {ids:,} distinct ids; "
        f"browser {len(tally.browser_accepted):,} accepted, {len(stored):,} stored, "
        f"{len(lost)} lost, {len(twice)} twice, {len(unexplained)} unexplained "
        f"({len(tally.browser_unknown)} cut off by a kill); spool drained in {drained:.1f} s",
    )
    return verdict(run, ok)


PY_PROCESSES, PY_THREADS = 2, 16  # the Python sender: past one interpreter's lock


def _python_sender(
    port: int, lines: list[str], rate: int, total: int, start: float, first: int
) -> Counter[str]:
    """In a process of its own: requests first, first + PY_PROCESSES, … from PY_THREADS
    keep-alive threads, each sent when due (start + i/rate, wall clock) or at once if late."""
    statuses: Counter[str] = Counter()
    lock = threading.Lock()
    step = PY_PROCESSES * PY_THREADS

    def sender(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for i in range(offset, total, step):
            pause = start + i / rate - time.time()
            if pause > 0:
                time.sleep(pause)
            ua, _, body = lines[i % len(lines)].rpartition("\t")
            headers = {"Content-Type": "text/plain", "User-Agent": ua or "Mozilla/5.0"}
            try:
                conn.request("POST", "/api/event", body=body.encode(), headers=headers)
                response = conn.getresponse()
                response.read()
                status = f"{response.status // 100}xx"
            except (OSError, http.client.HTTPException):
                status = "error"
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            with lock:
                statuses[status] += 1

    threads = [
        threading.Thread(target=sender, args=(first + n * PY_PROCESSES,)) for n in range(PY_THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def python_load(run: Trail, rate: int, duration: int, bodies: Path) -> dict:
    """The load without a C compiler: request i is due at start + i/rate (open loop as far as
    PY_PROCESSES x PY_THREADS connections allow); the rate is 2xx answers over the time from
    the first due request to the last answer (at least `duration`)."""
    lines = [line for line in bodies.read_text().splitlines() if line]
    total = rate * duration
    start = time.time() + 1.0
    with ProcessPoolExecutor(PY_PROCESSES) as pool:
        parts = [
            pool.submit(_python_sender, run.port, lines, rate, total, start, k)
            for k in range(PY_PROCESSES)
        ]
        statuses = sum((part.result() for part in parts), Counter())
    elapsed = time.time() - start
    return {
        "accepted_2xx_all": statuses["2xx"],
        "achieved_rate": statuses["2xx"] / max(elapsed, duration),
        "errors_total": statuses["error"],
        "status": {k: v for k, v in statuses.items() if k != "error"},
        "latency_ms": {"p99": "n/a (Python sender)"},
    }


def load(args: argparse.Namespace) -> bool:
    compiled = shutil.which("cc") is not None and not args.python_sender
    if compiled:
        build_loadgen()
    run = trail(workers=2)
    try:
        bodies = serve_site(run)
        if compiled:
            result = drive(run, args.rate, args.duration, bodies, warmup=0)
        else:
            print("no C compiler: the Python sender drives the load", flush=True)
            result = python_load(run, args.rate, args.duration, bodies)
        drained = wait_for_drain(run)
        [stored] = run.query("SELECT count() AS n, uniqExact(event_id) AS ids FROM events")
    finally:
        run.stop()
    ok_answers = int(result["accepted_2xx_all"])
    rows, ids = int(str(stored["n"])), int(str(stored["ids"]))
    other = sum(v for k, v in result["status"].items() if k != "2xx")
    errors = int(result["errors_total"])
    achieved = float(result["achieved_rate"])
    ok = achieved >= MIN_RATE and other == 0 and errors == 0 and rows == ids == ok_answers
    print(
        f"load {'OK' if ok else 'FAIL'}: {achieved:,.0f} events/s achieved for {args.duration} s "
        f"(target {args.rate:,}/s, at least {MIN_RATE:,}/s), {ok_answers:,} answered 2xx, "
        f"{other} non-2xx, {errors} failed requests, p99 {result['latency_ms']['p99']} ms; "
        f"ClickHouse {rows:,} rows, {ids:,} distinct ids; spool drained in {drained:.1f} s "
        f"({'Python sender' if not compiled else 'loadgen'}; {DOMAIN_NOTE})",
    )
    return verdict(run, ok)


DOMAIN_NOTE = f"site {LOAD_DOMAIN}, 2 web workers, Celery worker + beat"


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="run", required=True)
    chaos_args = sub.add_parser("chaos")
    chaos_args.add_argument("--events", type=int, default=10_000, help="batch-API events")
    chaos_args.add_argument("--browser-events", type=int, default=2_000)
    load_args = sub.add_parser("load")
    load_args.add_argument("--rate", type=int, default=1050)  # margin over MIN_RATE
    load_args.add_argument("--duration", type=int, default=20)
    load_args.add_argument("--python-sender", action="store_true", help="even with a compiler")
    args = parser.parse_args()
    ok = chaos(args) if args.run == "chaos" else load(args)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
