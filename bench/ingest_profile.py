"""Where the browser endpoint's time goes, per request: py-spy on a real running Trail.

    .venv/bin/python bench/ingest_profile.py embedded 1000 15
    .venv/bin/python bench/ingest_profile.py services 2000 15 --workers 2

Starts Trail as bench/ingest_load.py does, records the web process (and its workers) with
py-spy (`--gil`: only samples where a thread holds the GIL, i.e. Python doing work;
`--format raw`: one collapsed stack per line) while bench/loadgen drives `POST /api/event`
at RATE for SECONDS, then splits the samples into parts (docs/benchmarks.md, "Ingest per
core (issue 21)"). Each sample goes to the first part, in the order below, whose functions
are on its stack. Printed per part: its share of the samples, and that share of the web
process's CPU per request measured over the same run (from /proc: user + system of every
worker). On a shared machine the shares are the figure to trust: a thread holding the GIL
while the OS has it off the CPU is still sampled, so GIL-held wall time swells with the
load average; CPU time does not. Native time outside the GIL (granian's Rust, the kernel's
fsync) is spread over the parts in proportion by that scaling.

`--keep FILE` keeps the raw profile (`py-spy record --format speedscope` is the way to
browse one).
"""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from ingest_load import build_loadgen, drive, load_arguments, serve_site
from trail_proc import REPO, Trail, cpu_shares

PY_SPY = REPO / ".venv" / "bin" / "py-spy"
PARTS = [
    ("flush: enrich, page URL", ["parse_page_url"]),
    ("flush: enrich, user agent", ["client_info"]),
    ("flush: enrich, GeoIP", ["GeoDatabase.lookup"]),
    ("flush: enrich, referrer", ["attribute"]),
    ("flush: enrich, visitor id and the rest", ["enrich"]),
    ("flush: read, insert, sessions", ["flush_spool", "flush_segment", "JobThread._loop"]),
    ("spool write (group commit)", ["Spool.append"]),
    ("spool record (to_record)", ["to_record"]),
    ("steps (bot, site, rules, quota)", ["run"]),
    ("parsing (JSON, fields)", ["from_plausible", "from_umami", "parse_json", "decompress"]),
    ("collector, metrics", ["Collector.accept"]),
    ("handler, answer", ["_handle", "respond"]),
    ("adapter (WSGI route or direct)", ["wrap.<locals>.application", "direct"]),
    ("gate: pool hand-off", ["Gate._run", "_run_direct", "_WorkItem.run", "_worker"]),
    (
        "gate: body, rules, environ",
        ["Gate._receive", "environ_of", "read_into", "_client_and_length", "Gate.__call__"],
    ),
]
LOOP = "server: granian's callbacks + asyncio loop"


def split(raw: Path) -> list[tuple[str, float]]:
    """Each part's share of the samples (0..1)."""
    samples: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, count = line.rsplit(" ", 1)
        entries = stack.split(";")
        frames = {
            re.sub(r" \(.*", "", f) for f in entries if not f.startswith(("process", "thread"))
        }
        for name, functions in PARTS:
            if frames.intersection(functions):
                samples[name] += int(count)
                break
        else:
            thread = next((f for f in entries if f.startswith("thread")), "thread ?")
            main = "MainThread" in thread
            samples[LOOP if main else "other threads"] += int(count)
    order = [name for name, _ in PARTS] + [LOOP, "other threads"]
    total = max(1, sum(samples.values()))
    return [(name, samples[name] / total) for name in order]


def main() -> None:
    parser = load_arguments()
    parser.add_argument("--hz", type=int, default=200)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    if not PY_SPY.exists():
        raise SystemExit("py-spy is a dev dependency: .venv/bin/pip install py-spy")
    build_loadgen()
    trail = Trail(mode=args.mode, workers=args.workers)
    raw = Path(tempfile.mkdtemp(prefix="trail-profile-")) / "profile.txt"
    try:
        bodies = serve_site(trail)
        spy = subprocess.Popen(
            [
                str(PY_SPY),
                "record",
                *("--format", "raw", "--rate", str(args.hz), "--output", str(raw)),
                *("--subprocesses", "--gil", "--nonblocking", "--threads"),
                *("--duration", str(args.duration + 5), "--pid", str(trail.procs["web"].pid)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(1)
        before, started = trail.cpu(), time.monotonic()
        result = drive(trail, args.rate, args.duration, bodies, warmup=2)
        after, elapsed = trail.cpu(), time.monotonic() - started
        _, errors = spy.communicate()
        if spy.returncode or not raw.exists():
            raise SystemExit(f"py-spy failed: {errors.decode()[-2000:]}")
    finally:
        trail.stop()
    requests = int(result["accepted_2xx_all"])
    latency = result["latency_ms"]
    print(
        f"{args.mode} {args.rate}/s × {args.duration} s: achieved {result['achieved_rate']:.0f}/s,"
        f" p50 {latency['p50']} ms, p99 {latency['p99']} ms; {requests:,} requests profiled"
    )
    web = sum(after["web"].values()) - sum(before["web"].values())
    per_request = web / requests * 1e6
    print("CPU while the load ran (% of one core):", cpu_shares(before, after, elapsed))
    print("| part | share of GIL samples | µs of web CPU per request |\n|---|---|---|")
    for name, share in split(raw):
        print(f"| {name} | {share:.1%} | {share * per_request:.0f} |")
    print(f"| total | 100 % | {per_request:.0f} |")
    if args.keep:
        shutil.copy(raw, args.keep)


if __name__ == "__main__":
    main()
