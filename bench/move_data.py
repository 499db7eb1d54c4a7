"""`manage.py move_data` throughput: a generated site moved from an embedded install into a
ClickHouse server and another database (issue 18's figure: >= 200,000 events/s at 10 M).

    .venv/bin/python bench/move_data.py --events 10000000 [--var DIR] [--chunk-rows N]

The source is DIR (default: a new directory under /tmp), filled by bench/report_data.py
(reused when it already holds about that many events). The target is a fresh ClickHouse
data directory behind ClickHouse's HTTP protocol (bench/clickhouse_server.py, a process of
its own on a free port) and a fresh SQLite file. `move_data` runs as its own process, as a
user would run it; the figure is events moved per second of its wall time (migrations,
accounts database, copy and verification included), with the events table alone and all
rows (events + sessions) both printed, and the CPU seconds the move and the target server
spent (a figure other work on the machine changes less than the wall time).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--var", help="source var dir (default: a new one)")
    parser.add_argument("--chunk-rows", type=int, default=None)
    args = parser.parse_args()

    var = Path(args.var or tempfile.mkdtemp(prefix="trail-bench-move-"))
    env = {**os.environ, "TRAIL_VAR_DIR": str(var), "LOG_LEVEL": "WARNING"}
    for name in ("DATABASE_URL", "CLICKHOUSE_URL", "REDIS_URL", "TRAIL_FLUSH_MODE"):
        env.pop(name, None)
    subprocess.run(  # noqa: S603
        [
            PYTHON,
            str(REPO / "bench" / "report_data.py"),
            "--var",
            str(var),
            "--events",
            str(args.events),
        ],
        check=True,
        env=env,
    )

    target = Path(tempfile.mkdtemp(prefix="trail-bench-move-target-"))
    port = free_port()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server = subprocess.Popen(  # noqa: S603
        [
            PYTHON,
            str(REPO / "bench" / "clickhouse_server.py"),
            str(target / "clickhouse"),
            str(port),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1).read()  # noqa: S310
                break
            except OSError:
                time.sleep(0.05)
        command = [
            PYTHON,
            str(REPO / "manage.py"),
            "move_data",
            "--to-database",
            f"sqlite:///{target / 'trail.sqlite3'}",
            "--to-clickhouse",
            f"http://default:@127.0.0.1:{port}",
        ]
        if args.chunk_rows:
            command += ["--chunk-rows", str(args.chunk_rows)]
        started = time.perf_counter()
        done = subprocess.run(  # noqa: S603
            command, env=env, cwd=REPO, capture_output=True, text=True, check=False
        )
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(30)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(done.stdout)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        sys.exit(f"move_data failed (exit {done.returncode})")
    events = sum(
        int(n.replace(",", ""))
        for n in re.findall(r"^\s+events\s+\d+\s+count\(\)\s+([\d,]+)", done.stdout, re.MULTILINE)
    )
    copied = re.search(r"^([\d,]+) rows copied", done.stdout, re.MULTILINE)
    rows = int(copied.group(1).replace(",", "")) if copied else 0
    print(
        f"move_data: {events:,} events ({rows:,} rows with sessions) in {elapsed:.1f} s:"
        f" {events / elapsed:,.0f} events/s, {rows / elapsed:,.0f} rows/s"
        f" (target {target}; source {var})"
    )
    # The wall time depends on what else runs; the CPU time (move_data and the target server
    # together, the two cores' work) much less so.
    print(
        f"CPU time of move_data and the target server: {cpu:.1f} s; load average {os.getloadavg()[0]:.1f}"
    )
    shutil.rmtree(target, ignore_errors=True)


if __name__ == "__main__":
    main()
