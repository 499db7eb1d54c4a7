"""Browser-endpoint load: open-loop, constant rate, against a real running Trail.

    .venv/bin/python bench/ingest_load.py embedded 2500 30
    .venv/bin/python bench/ingest_load.py services 5000 30 --workers 2

Starts Trail (embedded: `manage.py serve`; services: 2 web workers, a Celery worker and
beat, PostgreSQL, Redis, a ClickHouse HTTP server), adds a site, and drives
`POST /api/event` with bench/loadgen (open loop: latency from each request's due time)
with synthetic pageviews and custom events. Then waits for the spool to drain and checks
that ClickHouse holds exactly one row per 2xx answer. Prints the achieved rate, latency
percentiles, the web process's memory and the drain time.

    .venv/bin/python bench/ingest_load.py embedded 2500 30 --destinations 3

With `--destinations N` the site streams every event to N destinations (signed webhooks)
served by a local receiver in this process (issue 20: ingest with 3 destinations on must
keep >= 90 % of its throughput): the same figures, then how long until the receiver has
every event N times, and how many it got twice.

    .venv/bin/python bench/ingest_load.py services 20000 20 --workers 2 --floor

With `--floor` the run first serves the floor (bench/floor_app.py: a bare granian WSGI app
that reads the body and answers 202, same workers) and drives it the same way at
`--floor-rate` for `--floor-seconds`: Trail's throughput and its web CPU per request are
then printed as ratios of the floor's, measured in the same run (issue 21: on a shared
machine absolute figures drift; the ratio is the figure to compare).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from synthetic import Traffic
from trail_proc import PYTHON, REPO, Trail, cpu_seconds, cpu_shares, free_port, http, rss_mib

LOADGEN = REPO / "bench" / ".bin" / "loadgen"
DOMAIN = "bench-load.com"


def serve_site(trail: Trail) -> Path:
    """Start `trail` with the benchmark's site; the file of request bodies to send."""
    trail.prepare()
    trail.start()
    trail.add_site(DOMAIN)
    bodies = trail.var / "bodies.txt"
    bodies.write_text("\n".join(Traffic(DOMAIN).body_lines(50_000)) + "\n")
    return bodies


def build_loadgen() -> None:
    subprocess.run(
        ["bash", str(REPO / "bench" / "build-loadgen.sh")], check=True, capture_output=True
    )


def drive(trail: Trail, rate: int, duration: int, bodies: Path, warmup: int = 3) -> dict:
    return load(f"{trail.base}/api/event", rate, duration, bodies, warmup)


def load(url: str, rate: int, duration: int, bodies: Path, warmup: int = 3) -> dict:
    done = subprocess.run(
        [
            str(LOADGEN),
            "--url",
            url,
            "--rate",
            str(rate),
            "--duration",
            str(duration),
            "--warmup",
            str(warmup),
            "--connections",
            "128",
            "--body-file",
            str(bodies),
            "--header",
            "Content-Type: text/plain",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise SystemExit(f"loadgen failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return dict(json.loads(lines[-1]))


@contextmanager
def served_floor(interface: str, target: str, *extra: str) -> Iterator[tuple[int, int]]:
    """granian serving bench/floor_app.py's `target` through `interface`: (port, pid)."""
    port = free_port()
    server = subprocess.Popen(
        [PYTHON, "-m", "granian", "--interface", interface, "--port", str(port)]
        + ["--no-access-log", "--log-level", "warning", *extra, target],
        cwd=REPO / "bench",
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                http("GET", f"http://127.0.0.1:{port}/")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"the floor's granian ({interface}) did not start") from None
                time.sleep(0.1)
        yield port, server.pid
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def measure_floor(
    interface: str, target: str, workers: int, rate: int, duration: int, bodies: Path
) -> tuple[dict, float]:
    """loadgen's result against bench/floor_app.py's `target` served through `interface`,
    and the server's CPU µs per 2xx."""
    with served_floor(interface, target, "--workers", str(workers)) as (port, pid):
        before = sum(cpu_seconds(pid).values())
        result = load(f"http://127.0.0.1:{port}/api/event", rate, duration, bodies)
        used = sum(cpu_seconds(pid).values()) - before
    return result, used / max(1, int(result["accepted_2xx_all"])) * 1e6


def floor(workers: int, rate: int, duration: int, bodies: Path) -> tuple[float, float]:
    """The floor's achieved rate and its CPU µs per 2xx (see the module's docstring)."""
    result, cpu_us = measure_floor("wsgi", "floor_app:app", workers, rate, duration, bodies)
    latency = result["latency_ms"]
    print(
        f"floor (bare granian WSGI, {workers} worker(s)): target {rate}/s, achieved "
        f"{result['achieved_rate']:.0f}/s; p50 {latency['p50']} ms, p99 {latency['p99']} ms; "
        f"{cpu_us:.0f} CPU µs per request; loadgen {result['cpu_pct']:.0f} %"
    )
    return float(result["achieved_rate"]), cpu_us


class Receiver:
    """A local destination endpoint: counts every event id it is sent (NDJSON lines)."""

    def __init__(self) -> None:
        self.ids: Counter[str] = Counter()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                # Each line starts {"event_id":"<uuid>": the id without parsing the line,
                # so the receiver (on the bench's cores, unlike a real one) costs little.
                ids = [line[13:49] for line in body.splitlines() if line]
                with receiver.lock:
                    receiver.ids.update(f"{self.path} {i}" for i in ids)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def received(self) -> tuple[int, int]:
        """Distinct (destination, event) pairs received, and how many came more than once."""
        with self.lock:
            return len(self.ids), sum(1 for n in self.ids.values() if n > 1)


def add_destinations(trail: Trail, receiver: Receiver, n: int) -> None:
    for i in range(n):
        status, body = http(
            "POST",
            f"{trail.base}/api/v1/sites/{DOMAIN}/destinations",
            {"type": "webhook", "url": f"{receiver.url}/d{i}", "secret": f"bench-{i}"},
            trail.key,
        )
        if status != 201:
            raise SystemExit(f"adding a destination failed: {status} {body[:300]!r}")


def count(trail: Trail) -> int:
    rows = trail.query(
        "SELECT count() AS n FROM events WHERE site_id IN "
        "(SELECT DISTINCT site_id FROM events)"  # one site per bench run
    )
    return int(str(rows[0]["n"]))


def load_arguments() -> argparse.ArgumentParser:
    """The arguments of a load run: the mode, the offered rate, seconds, web workers."""
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["embedded", "services"])
    parser.add_argument("rate", type=int)
    parser.add_argument("duration", type=int)
    parser.add_argument("--workers", type=int, default=1)
    return parser


def main() -> None:
    parser = load_arguments()
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--destinations", type=int, default=0)
    parser.add_argument("--floor", action="store_true", help="measure the floor first")
    parser.add_argument("--floor-rate", type=int, default=60_000)
    parser.add_argument("--floor-seconds", type=int, default=10)
    args = parser.parse_args()

    build_loadgen()
    floor_rate = floor_cpu = 0.0
    if args.floor:
        lines = Path(tempfile.mkdtemp(prefix="trail-floor-")) / "bodies.txt"
        lines.write_text("\n".join(Traffic(DOMAIN).body_lines(50_000)) + "\n")
        floor_rate, floor_cpu = floor(args.workers, args.floor_rate, args.floor_seconds, lines)
    extra = {"TRAIL_ALLOW_PRIVATE_WEBHOOKS": "on"} if args.destinations else {}
    trail = Trail(mode=args.mode, workers=args.workers, threads=args.threads, extra_env=extra)
    receiver = Receiver() if args.destinations else None
    try:
        bodies = serve_site(trail)
        if receiver is not None:
            add_destinations(trail, receiver, args.destinations)
        before = trail.cpu()
        bench_cpu = time.process_time()
        started = time.monotonic()
        result = drive(trail, args.rate, args.duration, bodies)
        elapsed = time.monotonic() - started
        after = trail.cpu()
        web_rss = rss_mib(trail.procs["web"].pid)
        print(json.dumps(result))
        total_ok = int(result["accepted_2xx_all"])
        latency = result["latency_ms"]
        print(
            f"{args.mode}: target {args.rate}/s, achieved {result['achieved_rate']:.0f}/s "
            f"({result['status']['2xx']:,} 2xx in the measured window, "
            f"{sum(result['status'].values()) - result['status']['2xx']} other, "
            f"{result['errors_total']} errors); p50 {latency['p50']} ms, p90 {latency['p90']} ms, "
            f"p99 {latency['p99']} ms, max {latency['max']} ms; web RSS {web_rss:.0f} MiB"
        )
        print("CPU while the load ran (% of one core):", cpu_shares(before, after, elapsed))
        web_cpu = sum(after["web"].values()) - sum(before["web"].values())
        web_us = web_cpu / max(1, int(result["accepted_2xx_all"])) * 1e6
        print(f"web: {web_us:.0f} CPU µs per request")
        if args.floor:
            print(
                f"ratio to the floor: throughput {result['achieved_rate'] / floor_rate:.1%} "
                f"({result['achieved_rate']:.0f} / {floor_rate:.0f} /s; a ratio of capacity only "
                f"if Trail was saturated), CPU per request {floor_cpu / web_us:.1%} "
                f"(floor {floor_cpu:.0f} µs / Trail web {web_us:.0f} µs)"
            )
        print(f"loadgen: {result['cpu_pct']:.0f} %")
        drained_at = time.monotonic()
        spool = trail.var / "spool"
        while any(spool.glob("*.seg")) or any(p.stat().st_size for p in spool.glob("*.open")):
            if time.monotonic() - drained_at > 300:
                raise SystemExit("the spool did not drain within 300 s")
            time.sleep(0.5)
        print(f"spool drained {time.monotonic() - drained_at:.1f} s after the load stopped")
        if receiver is not None:
            want = int(result["accepted_2xx_all"]) * args.destinations
            while receiver.received()[0] < want and time.monotonic() - drained_at < 600:
                time.sleep(0.5)
            got, twice = receiver.received()
            print(
                f"destinations: {got:,} of {want:,} (event, destination) pairs received "
                f"{time.monotonic() - drained_at:.1f} s after the load stopped; {twice} twice;"
                f" the receiver (this process) used {time.process_time() - bench_cpu:.1f} CPU s"
            )
    finally:
        trail.stop()
    stored = count(trail)
    # Under overload loadgen gives up on requests still in flight (at most one per
    # connection at the end, and its timeouts): Trail may have accepted and stored those
    # after all. More rows than 2xx answers, within that, loses nothing; fewer would.
    unanswered = int(result["errors_total"])
    if stored == total_ok:
        verdict = "OK"
    elif total_ok < stored <= total_ok + unanswered:
        verdict = f"OK ({stored - total_ok} stored whose answer loadgen no longer waited for)"
    else:
        verdict = "MISMATCH"
    print(f"ClickHouse rows {stored:,} vs 2xx answers {total_ok:,}: {verdict}")


if __name__ == "__main__":
    main()
