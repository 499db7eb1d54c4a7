"""What serving a request costs in each of granian's interfaces, before any of Trail's work.

    .venv/bin/python bench/floor_interfaces.py 10000 10

Serves bench/floor_app.py's bare answer (read the body, answer 202) with 2 workers through
granian's WSGI, ASGI, ASGI without lifespan (`asginl`, what `manage.py serve` runs), RSGI,
and RSGI with a hop to a thread pool per request, and drives each at RATE for SECONDS with
bench/loadgen (open loop, the same bodies as bench/ingest_load.py). Printed per interface:
the achieved rate, p99, and the server's CPU µs per request (from /proc).

Then whether the WSGI interface ties a Python thread to a client still sending its body:
one worker with one thread, five clients that send 3 of their 100 declared bytes and
stall, and a sixth, complete request, answered or not within 5 s (issue 21: the gate of
`manage.py serve` exists because a thread waiting on a client's network is a thread lost).
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import time
from pathlib import Path

from ingest_load import build_loadgen, measure_floor, served_floor
from synthetic import Traffic

INTERFACES = (
    ("wsgi", "floor_app:app"),
    ("asgi", "floor_app:asgi_app"),
    ("asginl", "floor_app:asgi_app"),
    ("rsgi", "floor_app:rsgi_app"),
    ("rsgi", "floor_app:rsgi_pool_app"),
)


def cost(interface: str, target: str, rate: int, seconds: int, bodies: Path) -> None:
    result, cpu_us = measure_floor(interface, target, 2, rate, seconds, bodies)
    print(
        f"{interface:<7} {target:<24} achieved {result['achieved_rate']:>8.0f}/s, "
        f"p99 {result['latency_ms']['p99']:>8} ms, {cpu_us:5.0f} CPU µs per request"
    )


def wsgi_waits_on_bodies() -> None:
    with served_floor("wsgi", "floor_app:app", "--workers", "1", "--blocking-threads", "1") as (
        port,
        _,
    ):
        stalled = []
        for _ in range(5):
            client = socket.create_connection(("127.0.0.1", port))
            client.sendall(b"POST /api/event HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc")
            stalled.append(client)
        time.sleep(0.5)
        complete = socket.create_connection(("127.0.0.1", port))
        complete.settimeout(5)
        complete.sendall(b"POST /api/event HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok")
        try:
            answered = complete.recv(64).split(b"\r\n")[0].decode()
        except TimeoutError:
            answered = "no answer within 5 s"
        for client in [*stalled, complete]:
            client.close()
    print(f"WSGI, one thread, five clients stalled mid-body: a complete request got {answered!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rate", type=int)
    parser.add_argument("seconds", type=int)
    args = parser.parse_args()
    build_loadgen()
    bodies = Path(tempfile.mkdtemp(prefix="trail-floors-")) / "bodies.txt"
    bodies.write_text("\n".join(Traffic("floor.example.com").body_lines(5_000)) + "\n")
    for interface, target in INTERFACES:
        cost(interface, target, args.rate, args.seconds, bodies)
    wsgi_waits_on_bodies()


if __name__ == "__main__":
    main()
