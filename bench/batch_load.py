"""Batch API throughput: `POST /api/v1/events` with 1,000 events a request.

    .venv/bin/python bench/batch_load.py embedded [seconds] [clients]
    .venv/bin/python bench/batch_load.py services [seconds] [clients] --workers 2

Bodies are encoded once beforehand (the client must not be what limits the rate); each
client thread posts them back to back on a keep-alive connection. Prints events/s
accepted, request latency percentiles, and checks that ClickHouse ends with one row per
accepted event.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from urllib.parse import urlsplit

from synthetic import Traffic
from trail_proc import Trail, cpu_shares

DOMAIN = "bench-batch.com"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["embedded", "services"])
    parser.add_argument("seconds", type=float, nargs="?", default=20)
    parser.add_argument("clients", type=int, nargs="?", default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--flush-nice", default="", help="TRAIL_FLUSH_NICE for the Celery worker (default: Trail's)"
    )
    args = parser.parse_args()

    extra = {"TRAIL_FLUSH_NICE": args.flush_nice} if args.flush_nice else {}
    trail = Trail(mode=args.mode, workers=args.workers, extra_env=extra)
    trail.prepare()
    trail.start()
    trail.add_site(DOMAIN)
    traffic = Traffic(DOMAIN)
    bodies = []
    events = list(traffic.events(20_000))
    for first in range(0, len(events), 1000):
        items = [
            {
                "domain": DOMAIN,
                "name": e["body"]["n"],
                "url": e["body"]["u"],
                "referrer": e["body"]["r"],
                "ip": e["ip"],
                "user_agent": e["ua"],
                "props": e["body"].get("p", {}),
            }
            for e in events[first : first + 1000]
        ]
        bodies.append(json.dumps({"events": items}).encode())

    accepted, latencies, lock = [0], [], threading.Lock()
    failures: list[str] = []
    stop_at = time.monotonic() + args.seconds
    host = urlsplit(trail.base)

    def client(n: int) -> None:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {trail.key}"}
        i = n
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            conn.request("POST", "/api/v1/events", body=bodies[i % len(bodies)], headers=headers)
            response = conn.getresponse()
            answer = json.loads(response.read())
            if response.status != 202:
                failures.append(f"{response.status}: {answer}")
                return
            with lock:
                accepted[0] += int(answer["accepted"])
                latencies.append(time.perf_counter() - started)
            i += args.clients

    before = trail.cpu()
    own = time.process_time()
    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    after = trail.cpu()
    if failures:
        raise SystemExit(f"{len(failures)} client(s) got an error, e.g. {failures[0]}")
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    print(
        f"{args.mode}: {accepted[0] / elapsed:,.0f} events/s accepted "
        f"({accepted[0]:,} in {elapsed:.1f} s, {args.clients} clients, 1,000 events a request); "
        f"request p50 {pick(0.5):.0f} ms, p99 {pick(0.99):.0f} ms"
    )
    print("CPU while the load ran (% of one core):", cpu_shares(before, after, elapsed))
    print(f"clients: {(time.process_time() - own) / elapsed * 100:.0f} %")
    spool = trail.var / "spool"
    waited = time.monotonic()
    while any(spool.glob("*.seg")) or any(p.stat().st_size for p in spool.glob("*.open")):
        time.sleep(0.5)
    print(f"spool drained {time.monotonic() - waited:.1f} s after the load stopped")
    trail.stop()
    [row] = trail.query("SELECT count() AS n FROM events")
    print(
        f"ClickHouse rows {int(str(row['n'])):,} vs accepted {accepted[0]:,}: "
        f"{'OK' if int(str(row['n'])) == accepted[0] else 'MISMATCH'}"
    )


if __name__ == "__main__":
    main()
