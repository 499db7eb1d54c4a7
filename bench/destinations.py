"""Streaming destinations: what they cost the flush, and how fast they drain.

    .venv/bin/python bench/destinations.py [events per round] [rounds] [stream seconds] [rate]

In one process, embedded mode (chDB, SQLite), a throw-away var/:

1. **The flush's cost.** Spool segments of synthetic events (5,000 a segment, the size a
   busy second gives) are flushed into ClickHouse by `flush_spool()` with no destination,
   then with 3 (signed webhooks) on the site, alternating A/B rounds to share out the
   noise of a loaded machine; prints events/s of each and their ratio. The whole ingest
   path (HTTP, spool) is the same with or without destinations: only the flush changes.
2. **Streaming.** Enriched rows are queued through the flush's own call
   (`outbox.enqueue`) at a steady `rate` (default 20,000 events/s, a quarter every 0.25 s)
   while the forwarder runs as embedded mode runs it (its own thread, every second), to
   a local HTTP receiver (http.server, threads) that verifies every signature and counts
   each event id; prints the receiver's events/s, the largest lag seen (age of the oldest
   unsent event, sampled every 0.5 s), and whether every event arrived exactly once.
3. **Draining** a backlog: how fast the forwarder empties it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

os.environ.setdefault("TRAIL_ALLOW_PRIVATE_WEBHOOKS", "1")

import _setup  # noqa: E402

_setup.django()

import orjson  # noqa: E402
from synthetic import Traffic, spool_records  # noqa: E402

from common.outbound import SIGNATURE_HEADER, verify  # noqa: E402
from events.clickhouse import get_client  # noqa: E402
from events.clickhouse.migrate import migrate  # noqa: E402
from events.destinations import outbox, services  # noqa: E402
from events.destinations.forward import forward  # noqa: E402
from events.destinations.models import Destination, DestinationBatch  # noqa: E402
from events.enrich.enrich import enrich  # noqa: E402
from events.flush import flush_spool  # noqa: E402
from events.record import SpooledEvent  # noqa: E402
from events.rows import EventRow  # noqa: E402
from events.spool import spool_dir  # noqa: E402

SECRET = "bench-secret"  # noqa: S105 (the local receiver's)
SEGMENT = 5_000


class Counted:
    def __init__(self) -> None:
        self.ids: Counter[str] = Counter()
        self.bad = 0
        self.first: float | None = None
        self.last = 0.0
        self.lock = threading.Lock()


def receiver(counted: Counted) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            good = verify(SECRET, body, self.headers.get(SIGNATURE_HEADER, ""))
            ids = [orjson.loads(line)["event_id"] for line in body.splitlines() if line]
            with counted.lock:
                if not good:
                    counted.bad += 1
                counted.ids.update(ids)
                now = time.monotonic()
                counted.first = counted.first or now
                counted.last = now
            self.send_response(200 if good else 401)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def site() -> object:
    from accounts.models import User
    from accounts.services import organization_create
    from sites.services import site_create

    owner = User.objects.create_user(email=f"{uuid.uuid4().hex[:8]}@bench.example", password="x")
    org = organization_create(name="bench", owner=owner)
    return site_create(organization=org, domain="bench-destinations.com", timezone_name="UTC")


def write_segments(templates: list[dict], traffic: Traffic, count: int, start: int) -> int:
    directory = spool_dir()
    directory.mkdir(parents=True, exist_ok=True)
    base = int(time.time() * 1000)
    written = 0
    for number in range(count // SEGMENT):
        lines = []
        for i in range(SEGMENT):
            n = start + written + i
            record = dict(templates[n % len(templates)])
            record["id"] = uuid.uuid4().hex
            record["ts"] = record["rx"] = base + i % 1000
            record["ip"] = traffic.ip(n * 7919 % 5_000_000)
            lines.append(orjson.dumps(record) + b"\n")
        name = f"bench-{time.time_ns()}-{number:08d}.seg"
        (directory / name).write_bytes(b"".join(lines))
        written += SEGMENT
    return written


_queueing = [0.0]  # seconds spent in outbox.enqueue, the flush's one call
_enqueue = outbox.enqueue


def _timed_enqueue(*args: Any, **kwargs: Any) -> int:
    began = time.perf_counter()
    try:
        return _enqueue(*args, **kwargs)
    finally:
        _queueing[0] += time.perf_counter() - began


outbox.enqueue = _timed_enqueue  # type: ignore[assignment]


def flush_rate(
    client: object, templates: list[dict], traffic: Traffic, events: int
) -> tuple[float, float]:
    """The flush's events/s, and the share of its time spent queueing for destinations."""
    write_segments(templates, traffic, events, 0)
    _queueing[0] = 0.0
    started = time.perf_counter()
    report = flush_spool(client=client)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    assert not report.errors and report.events == events, report
    return events / elapsed, _queueing[0] / elapsed


def enriched_rows(templates: list[dict], traffic: Traffic) -> list[EventRow]:
    found = []
    for n, template in enumerate(templates[:5_000]):
        record = dict(template)
        record["id"] = uuid.uuid4().hex
        record["ts"] = record["rx"] = int(time.time() * 1000)
        record["ip"] = traffic.ip(n * 7919 % 5_000_000)
        found.append(enrich(SpooledEvent.of(record), geo=None))
    return found


def main(per_round: int, rounds: int, stream_seconds: float, rate: int) -> None:
    client = get_client()
    migrate(client)
    target = site()
    traffic = Traffic("bench-destinations.com", visitors=2_000_000)
    templates = spool_records(traffic, 50_000, site_id=target.pk)  # type: ignore[attr-defined]
    counted = Counted()
    server = receiver(counted)
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"

    flush_rate(client, templates, traffic, SEGMENT * 2)  # warm up
    without, with_three, shares = [], [], []
    made: list[Destination] = []
    for _ in range(rounds):
        for destination in made:
            destination.delete()
        made = []
        without.append(flush_rate(client, templates, traffic, per_round)[0])
        made = [
            services.destination_create(
                site=target, fields={"type": "webhook", "url": url, "secret": SECRET}
            )
            for _ in range(3)
        ]
        rate_with, share = flush_rate(client, templates, traffic, per_round)
        with_three.append(rate_with)
        shares.append(share)
    a, b = sorted(without)[len(without) // 2], sorted(with_three)[len(with_three) // 2]
    print(f"flush, no destination:    {a:,.0f} events/s (rounds: {[round(x) for x in without]})")
    print(f"flush, 3 destinations:    {b:,.0f} events/s (rounds: {[round(x) for x in with_three]})")
    print(f"with 3 destinations the flush keeps {b / a:.0%} of its throughput (medians)")
    share = sorted(shares)[len(shares) // 2]
    print(
        f"time in the flush's queueing call (outbox.enqueue): {share:.1%} of the flush"
        f" (median): without it, the flush would keep {1 - share:.0%}"
    )

    # Streaming: one destination, fed through the outbox's own entry (`outbox.enqueue`, the
    # flush's one call) at `rate` events/s: the flush alone does not reach 20,000 events/s
    # on this machine (above), and what is measured here is what comes after it.
    for destination in made[1:]:
        destination.delete()
    DestinationBatch.objects.all().delete()
    counted.ids.clear()
    counted.first = None
    stop = threading.Event()
    produced = [0]
    rows = enriched_rows(templates, traffic)
    per_tick = rate // 4

    def produce() -> None:
        from django.db import connection

        tick = time.monotonic()
        while not stop.is_set():
            batch = []
            for i in range(per_tick):
                row = rows[i % len(rows)]
                row.event_id = uuid.uuid4()  # queued (serialized) at once: reuse the row
                batch.append((i, row))
            outbox.enqueue(f"bench-{time.time_ns()}", batch)
            produced[0] += per_tick
            tick += 0.25
            time.sleep(max(0.0, tick - time.monotonic()))
        connection.close()

    def send_loop() -> None:
        from django.db import connection

        while not stop.is_set() or DestinationBatch.objects.exists():
            forward()
            time.sleep(1.0)
        connection.close()

    lags: list[float] = []
    producer = threading.Thread(target=produce)
    sender = threading.Thread(target=send_loop)
    started = time.monotonic()
    producer.start()
    sender.start()
    while time.monotonic() - started < stream_seconds:
        time.sleep(0.5)
        lags.append(services.describe(made[0])["lag_seconds"])
    stop.set()
    producer.join()
    produced_for = time.monotonic() - started
    sender.join()
    elapsed = (counted.last - counted.first) if counted.first else 0.0
    received = sum(counted.ids.values())
    print(
        f"streaming at {rate:,} events/s offered: {produced[0]:,} events queued in"
        f" {produced_for:.0f} s, {received:,} received ({len(counted.ids):,} distinct ids,"
        f" {received - len(counted.ids)} repeats, {counted.bad} bad signatures) at"
        f" {received / elapsed:,.0f} events/s; lag max {max(lags):.1f} s,"
        f" median {sorted(lags)[len(lags) // 2]:.1f} s"
    )
    ok = len(counted.ids) == produced[0] and received == produced[0] and not counted.bad
    print("every event exactly once by id:", "OK" if ok else "MISMATCH")

    # Drain speed: a backlog of the same events, sent as fast as the forwarder goes.
    produced_backlog = write_segments(templates, traffic, per_round, 0)
    flush_spool(client=client)  # type: ignore[arg-type]
    counted.ids.clear()
    counted.first = None
    began = time.perf_counter()
    while DestinationBatch.objects.exists():
        forward(budget=60.0)
    drained = time.perf_counter() - began
    print(
        f"draining a backlog of {produced_backlog:,} events: {drained:.1f} s, "
        f"{produced_backlog / drained:,.0f} events/s"
    )
    server.shutdown()


if __name__ == "__main__":
    numbers = [float(a) for a in sys.argv[1:]]
    main(
        int(numbers[0]) if numbers else 50_000,
        int(numbers[1]) if len(numbers) > 1 else 3,
        numbers[2] if len(numbers) > 2 else 30.0,
        int(numbers[3]) if len(numbers) > 3 else 20_000,
    )
