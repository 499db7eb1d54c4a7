"""Stop `manage.py serve` again and again as a terminal's Ctrl-C does, and time each exit.

    .venv/bin/python bench/shutdown_cycles.py [--cycles 20] [--events 5]

Each cycle starts the embedded server (one migrated var/ dir for all cycles), waits for
/healthz, posts `--events` browser events (each must be answered 202), then sends SIGINT
or SIGTERM (alternating) to the server's whole process group and measures how long the
process takes to exit (a hang is cut at 30 s, SIGKILLed and counted). At the end Trail is
started once more and stopped, and ClickHouse must hold every accepted event.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import time

from trail_proc import Trail

DOMAIN = "bench-shutdown.com"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"
HANG = 30.0


def post_events(trail: Trail, count: int, cycle: int) -> int:
    import urllib.request

    accepted = 0
    for n in range(count):
        body = {"n": "pageview", "u": f"https://{DOMAIN}/c{cycle}/e{n}", "d": DOMAIN}
        request = urllib.request.Request(  # noqa: S310 (loopback)
            f"{trail.base}/api/event",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "text/plain", "User-Agent": UA},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            if response.status != 202 or response.headers.get("X-Trail-Dropped"):
                raise SystemExit(f"event not accepted: {response.status} {response.headers}")
            accepted += 1
    return accepted


def stop_group(trail: Trail, sig: signal.Signals) -> tuple[float, int | None]:
    """Signal the web process's group; seconds until it exited and its status (None: hung)."""
    proc = trail.procs.pop("web")
    started = time.monotonic()
    os.killpg(proc.pid, sig)
    try:
        status: int | None = proc.wait(HANG)
    except subprocess.TimeoutExpired:
        status = None
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return time.monotonic() - started, status


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--events", type=int, default=5)
    args = parser.parse_args()

    trail = Trail(extra_env={"LOG_LEVEL": "INFO"})
    trail.prepare()
    trail.start()
    trail.add_site(DOMAIN)
    stop_group(trail, signal.SIGTERM)  # each cycle starts the server afresh

    times, hung, accepted = [], 0, 0
    for cycle in range(args.cycles):
        sig = signal.SIGINT if cycle % 2 == 0 else signal.SIGTERM
        trail.start()
        accepted += post_events(trail, args.events, cycle)
        seconds, status = stop_group(trail, sig)
        times.append(seconds)
        hung += status is None
        print(f"cycle {cycle + 1:2d} {sig.name:7s} exit {status} after {seconds:.2f} s", flush=True)

    trail.start()
    time.sleep(3)  # the flusher's first turn
    trail.stop()
    rows = trail.query("SELECT count() AS n FROM events WHERE hostname = 'bench-shutdown.com'")
    print(
        f"exit times over {len(times)} cycles: min {min(times):.2f} s, "
        f"median {statistics.median(times):.2f} s, max {max(times):.2f} s; hung {hung}; "
        f"events accepted {accepted}, stored after a restart {rows[0]['n']}; logs in {trail.var}"
    )


if __name__ == "__main__":
    main()
