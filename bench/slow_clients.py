"""Slow clients against a real running Trail (issue 23.1): do they hold its workers?

    .venv/bin/python bench/slow_clients.py [--rate 2500] [--duration 20] [--attackers 64]

Starts Trail in embedded mode (`manage.py serve`, bench/trail_proc.py), adds a site, then
runs the same load twice, `--duration` seconds each: bench/loadgen driving
`POST /api/event` at `--rate` (open loop), and a probe asking `/healthz` ten times a
second. The first run is idle; during the second, `--attackers` connections each send a
`POST /api/event` body of 1,000 bytes at 1 byte/s (from 127.0.0.2-127.0.0.5, a quarter
each, under the per-address bound; a connection the server answers, e.g. `408` at
TRAIL_BODY_TIMEOUT, is opened again). Loopback only; everything stops with the run.
Prints /healthz and ingest latency (median, worst), ingest throughput, the attackers'
answers, and each target of the issue with its verdict.
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import statistics
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

from ingest_load import build_loadgen, drive, serve_site
from trail_proc import Trail

ATTACK_SOURCES = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
ATTACK_BODY = 1000  # declared bytes; one is sent per second
PROBE_EVERY = 0.1  # seconds between /healthz probes
TIMEOUT = 10.0  # seconds a probe may wait


@dataclass
class Probe:
    """/healthz asked every PROBE_EVERY seconds until stopped; latencies in ms."""

    url: str
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.wait(PROBE_EVERY):
            started = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=TIMEOUT) as response:  # noqa: S310
                    response.read()
                self.latencies.append((time.monotonic() - started) * 1000)
            except OSError:
                self.failures += 1


@dataclass
class Attack:
    """`count` connections sending a body a byte a second until stopped."""

    port: int
    count: int
    answers: Counter[str] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)

    def _open(self, index: int) -> socket.socket:
        source = ATTACK_SOURCES[index % len(ATTACK_SOURCES)]
        sock = socket.create_connection(("127.0.0.1", self.port), 5, (source, 0))
        sock.sendall(
            b"POST /api/event HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
            + f"Content-Length: {ATTACK_BODY}\r\n\r\n".encode()
        )
        return sock

    def run(self) -> None:
        socks = [self._open(i) for i in range(self.count)]
        try:
            while not self.stop.wait(1.0):
                readable = set(select.select(socks, [], [], 0)[0])
                for i, sock in enumerate(socks):
                    if sock in readable:  # answered (or closed): count it, come back
                        head = sock.recv(64)
                        self.answers[head.split(b" ", 2)[1].decode() if head else "closed"] += 1
                        sock.close()
                        socks[i] = self._open(i)
                    else:
                        try:
                            sock.send(b"x")
                        except OSError:
                            self.answers["reset"] += 1
                            sock.close()
                            socks[i] = self._open(i)
        finally:
            for sock in socks:
                sock.close()


def run(trail: Trail, bodies: object, rate: int, duration: int, attackers: int) -> dict:
    probe = Probe(f"{trail.base}/healthz")
    attack = Attack(trail.port, attackers)
    threads = [threading.Thread(target=probe.run)]
    if attackers:
        threads.append(threading.Thread(target=attack.run))
    for thread in threads:
        thread.start()
    time.sleep(2 if attackers else 0)  # the attack is in place before the load starts
    try:
        load = drive(trail, rate, duration, bodies)  # type: ignore[arg-type]
    finally:
        probe.stop.set()
        attack.stop.set()
        for thread in threads:
            thread.join()
    latency = load["latency_ms"]
    return {
        "healthz_median_ms": round(statistics.median(probe.latencies), 1),
        "healthz_worst_ms": round(max(probe.latencies), 1),
        "healthz_failed": probe.failures,
        "ingest_median_ms": latency["p50"],
        "ingest_p99_ms": latency["p99"],
        "ingest_worst_ms": latency["max"],
        "ingest_per_s": round(load["status"]["2xx"] / duration),
        "ingest_not_2xx": sum(load["status"].values()) - load["status"]["2xx"],
        "ingest_not_2xx_by_status": load.get("non_2xx", {}),
        "ingest_errors": load["errors_total"],
        "attackers_answered": dict(attack.answers),
    }


def verdicts(idle: dict, attacked: dict) -> list[tuple[str, bool]]:
    worst = max(attacked["healthz_worst_ms"], attacked["ingest_worst_ms"])
    return [
        (f"every other request within 2 s (worst {worst:.0f} ms)", worst < 2000),
        (
            "median /healthz within 2x idle",
            attacked["healthz_median_ms"] <= 2 * max(idle["healthz_median_ms"], 1),
        ),
        (
            "median ingest within 2x idle",
            attacked["ingest_per_s"] > 0
            and attacked["ingest_median_ms"] <= 2 * max(idle["ingest_median_ms"], 1),
        ),
        (
            f"ingest throughput >= 80% of idle ({attacked['ingest_per_s']} vs "
            f"{idle['ingest_per_s']}/s)",
            attacked["ingest_per_s"] >= 0.8 * idle["ingest_per_s"],
        ),
        (
            "no failed /healthz or ingest request",
            not (attacked["healthz_failed"] or attacked["ingest_not_2xx"])
            and not attacked["ingest_errors"],
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=2500)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--attackers", type=int, default=64)
    args = parser.parse_args()

    build_loadgen()
    trail = Trail()
    try:
        bodies = serve_site(trail)
        idle = run(trail, bodies, args.rate, args.duration, 0)
        attacked = run(trail, bodies, args.rate, args.duration, args.attackers)
    finally:
        trail.stop()
    print("idle:    ", json.dumps(idle))
    print("attacked:", json.dumps(attacked))
    for text, ok in verdicts(idle, attacked):
        print(f"{'OK  ' if ok else 'FAIL'} {text}")


if __name__ == "__main__":
    main()
