"""Chaos: send 100,000 events while SIGKILLing Trail's processes; nothing accepted is lost
and nothing is stored twice.

    .venv/bin/python bench/chaos.py services [--events 100000] [--kills 6] [--outage 60]
    .venv/bin/python bench/chaos.py embedded [--events 100000] [--kills 4]

Senders post through the batch API (10 events a request, each with its own `event_id`)
and retry every request until it is answered 2xx, as a careful server-side client does;
a share of the events goes through the browser endpoint `POST /api/event` instead, sent
once each with a unique `seq` property (a browser does not retry). Meanwhile the web
process (services mode: also the Celery worker) is killed with SIGKILL and restarted,
again and again; with `--outage N` the ClickHouse server is also stopped for N seconds
under load and started again. At the end, after the spool drained, ClickHouse must hold
- for the batch events: count() = uniqExact(event_id) = events sent (all were accepted);
- for the browser events: every 2xx-answered `seq` exactly once; extra rows only for
  requests cut off by a kill before their answer (the client never learned their fate).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from trail_proc import Trail

DOMAIN = "bench-chaos.com"
UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


@dataclass
class Tally:
    batch_accepted: int = 0
    browser_accepted: set[int] = field(default_factory=set)
    browser_unknown: set[int] = field(default_factory=set)
    retries: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, status: str) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1


def _post(conn: http.client.HTTPConnection, path: str, body: bytes, headers: dict) -> int:
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


def batch_sender(base: str, key: str, ids: range, tally: Tally, stop: threading.Event) -> None:
    host = urlsplit(base)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {key}",
        "Connection": "keep-alive",
    }
    for first in range(ids.start, ids.stop, 10):
        events = [
            {
                "domain": DOMAIN,
                "name": "pageview",
                "url": f"https://{DOMAIN}/p/{n % 500}",
                "event_id": f"chaos-{n}",
                "ip": f"81.2.{n % 200}.{n % 250 + 1}",
                "user_agent": UA,
            }
            for n in range(first, min(first + 10, ids.stop))
        ]
        body = json.dumps({"events": events}).encode()
        while not stop.is_set():
            try:
                status = _post(conn, "/api/v1/events", body, headers)
            except (OSError, http.client.HTTPException):
                tally.saw("connection error")
                conn.close()
                conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
                time.sleep(0.2)
                with tally.lock:
                    tally.retries += 1
                continue
            tally.saw(str(status))
            if 200 <= status < 300:
                with tally.lock:
                    tally.batch_accepted += len(events)
                break
            time.sleep(0.5)  # 503 + Retry-After, or a restart in progress
            with tally.lock:
                tally.retries += 1


def browser_sender(base: str, seqs: range, tally: Tally, stop: threading.Event) -> None:
    host = urlsplit(base)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
    headers = {"Content-Type": "text/plain", "User-Agent": UA, "Connection": "keep-alive"}
    for seq in seqs:
        if stop.is_set():
            return
        body = json.dumps(
            {"n": "Chaos", "u": f"https://{DOMAIN}/b", "d": DOMAIN, "p": {"seq": seq}}
        ).encode()
        try:
            status = _post(conn, "/api/event", body, headers)
        except (OSError, http.client.HTTPException):
            tally.saw("browser connection error")
            with tally.lock:
                tally.browser_unknown.add(seq)  # sent, answer lost: fate unknown
            conn.close()
            conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
            time.sleep(0.2)
            continue
        tally.saw(f"browser {status}")
        if 200 <= status < 300:
            with tally.lock:
                tally.browser_accepted.add(seq)


def start_senders(
    base: str,
    key: str,
    events: int,
    browser_events: int,
    senders: int,
    tally: Tally,
    stop: threading.Event,
) -> list[threading.Thread]:
    """Start `senders` batch-API senders sharing `events` ids and one browser sender of
    `browser_events` seqs; the running threads."""
    share = events // senders
    threads = [
        threading.Thread(
            target=batch_sender,
            args=(
                base,
                key,
                range(i * share, events if i == senders - 1 else (i + 1) * share),
                tally,
                stop,
            ),
        )
        for i in range(senders)
    ]
    threads.append(
        threading.Thread(target=browser_sender, args=(base, range(browser_events), tally, stop))
    )
    for thread in threads:
        thread.start()
    return threads


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["embedded", "services"])
    parser.add_argument("--events", type=int, default=100_000, help="batch-API events")
    parser.add_argument("--browser-events", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--outage", type=float, default=0, help="seconds without ClickHouse")
    parser.add_argument("--senders", type=int, default=4)
    args = parser.parse_args()

    trail = Trail(mode=args.mode, workers=2 if args.mode == "services" else 1)
    trail.prepare()
    trail.start()
    trail.add_site(DOMAIN)
    tally, stop = Tally(), threading.Event()
    started = time.monotonic()
    threads = start_senders(
        trail.base, trail.key, args.events, args.browser_events, args.senders, tally, stop
    )

    rng = random.Random(1)
    victims = ["web", "worker"] if args.mode == "services" else ["web"]
    kills = []
    outage_done = args.outage <= 0
    for n in range(args.kills):
        time.sleep(rng.uniform(2.0, 5.0))
        victim = victims[n % len(victims)]
        trail.kill(victim, signal.SIGKILL)
        kills.append(f"{time.monotonic() - started:.1f}s {victim}")
        print(f"killed {victim} (SIGKILL) at {kills[-1]}", flush=True)
        time.sleep(rng.uniform(0.2, 1.0))
        trail.restart(victim)
        if not outage_done and n == args.kills // 2:
            time.sleep(3)  # let a restarted worker finish its start-up checks
            print(f"ClickHouse down for {args.outage:.0f} s", flush=True)
            trail.kill("clickhouse", signal.SIGKILL)
            time.sleep(args.outage)
            trail.start_clickhouse(same_port=True)
            outage_done = True
            print("ClickHouse back", flush=True)

    for thread in threads:
        thread.join()
    sent_for = time.monotonic() - started
    print(
        f"all events answered after {sent_for:.0f} s; retries {tally.retries}; "
        f"statuses {tally.statuses}",
        flush=True,
    )

    spool = trail.var / "spool"
    deadline = time.monotonic() + 600
    while any(spool.glob("*.seg")) or any(p.stat().st_size for p in spool.glob("*.open")):
        if time.monotonic() > deadline:
            raise SystemExit("the spool did not drain within 600 s")
        time.sleep(1)
    time.sleep(2)
    trail.stop()
    [batch] = trail.query(
        "SELECT count() AS n, uniqExact(event_id) AS ids FROM events WHERE name = 'pageview'"
    )
    browser = trail.query(
        "SELECT props['seq'] AS seq, count() AS n FROM events WHERE name = 'Chaos' GROUP BY seq"
    )
    trail.stop()
    stored = {int(str(row["seq"])): int(str(row["n"])) for row in browser}
    accepted = tally.batch_accepted
    ok_batch = int(str(batch["n"])) == int(str(batch["ids"])) == accepted == args.events
    lost = sorted(s for s in tally.browser_accepted if stored.get(s, 0) == 0)
    doubled = sorted(s for s, n in stored.items() if n > 1)
    extra = sorted(s for s in stored if s not in tally.browser_accepted)
    unexplained = [s for s in extra if s not in tally.browser_unknown]
    print(f"kills: {', '.join(kills)}")
    print(
        f"batch API: accepted {accepted:,}, stored count() {batch['n']}, "
        f"uniqExact(event_id) {batch['ids']}: {'OK' if ok_batch else 'FAIL'}"
    )
    print(
        f"browser: accepted {len(tally.browser_accepted):,}, stored {len(stored):,}, "
        f"lost {len(lost)}, stored twice {len(doubled)}, stored though unanswered "
        f"{len(extra)} (of {len(tally.browser_unknown)} cut off), unexplained "
        f"{len(unexplained)}: {'OK' if not lost and not doubled and not unexplained else 'FAIL'}"
    )
    if not ok_batch or lost or doubled or unexplained:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
