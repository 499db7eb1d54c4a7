"""The raw events export measured at an HTTP client against a running Trail (embedded):
events/s per format, time to first byte, and the Trail process's peak RSS growth over a
whole export of the site.

    .venv/bin/python bench/exports.py --var /tmp/trail-bench-10m [--formats parquet,ndjson]

The var dir is bench/report_data.py's (`--var DIR --events 10000000`). Trail is started on
it with `manage.py serve` (bench/trail_proc.py), given an API key with `stats:read` for the
site's organization, and asked for `GET /api/v1/sites/<domain>/events/export?date_range=all`
once per format, without gzip (Parquet is compressed inside; gzip of NDJSON costs what
zlib costs). Each measured export follows a one-day export of the same format (a warm worker, as
in service). The client reads the body in 1 MiB pieces and keeps none of it; it counts
NDJSON's lines and reads the Parquet file's row count from its footer. The web process
(supervisor and worker) is sampled every 50 ms for its resident memory, and its CPU seconds
over the export are printed too: on a shared machine, events per CPU-second of Trail say
more than events per second of wall time.

Targets (issue 17): Parquet >= 1,000,000 events/s, NDJSON >= 300,000 events/s, time to
first byte <= 500 ms, peak RSS growth <= 150 MB; the 30-day report zip <= 3 s (as a job
through the API, from its POST to `done`, `--report-runs` times).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
from trail_proc import Trail, rss_mib

REPORT_TARGET_S = 3.0
TARGETS = {"parquet": 1_000_000, "ndjson": 300_000, "csv": 300_000}
KEY_CODE = """
from accounts.models import ApiKey, Membership, Role, User
from accounts.services import api_key_create
from sites.models import Site
site = Site.objects.get(domain={domain!r}, deleted_at__isnull=True)
owner = User.objects.filter(email="bench-exports@trail-bench.com").first() or (
    User.objects.create_user(email="bench-exports@trail-bench.com", password=None))
Membership.objects.get_or_create(user=owner, organization=site.organization,
                                 defaults={{"role": Role.OWNER}})
key, raw = api_key_create(organization=site.organization, actor=owner, name="bench exports",
                          scopes=["stats:read"])
ApiKey.objects.filter(pk=key.pk).update(rate_limit_per_minute=10**6)
print(raw)
"""
COUNT_CODE = """
from events.clickhouse import get_client
from sites.models import Site
site = Site.objects.get(domain={domain!r}, deleted_at__isnull=True)
print(get_client().query("SELECT count() AS n FROM events WHERE site_id = {{s:UInt64}}",
                         {{"s": site.id}})[0]["n"])
"""


class Sampler(threading.Thread):
    """The peak resident memory (MiB) of a process and its children, every 50 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = rss_mib(pid)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            self.peak = max(self.peak, rss_mib(self.pid))


def _parquet_rows(tail: bytes) -> int:
    """The row count in a Parquet file's footer (the file's last bytes suffice)."""
    return int(pq.read_metadata(io.BytesIO(b"PAR1" + tail)).num_rows)


def export(trail: Trail, domain: str, fmt: str, date_range: str = "all") -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", trail.port, timeout=600)
    path = f"/api/v1/sites/{domain}/events/export?date_range={date_range}&format={fmt}"
    headers = {"Authorization": f"Bearer {trail.key}", "Accept-Encoding": "identity"}
    sampler = Sampler(trail.procs["web"].pid)
    base = sampler.peak
    cpu_before = sum(trail.cpu()["web"].values())
    sampler.start()
    start = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    if response.status != 200:
        raise SystemExit(f"{fmt}: {response.status} {response.read()[:300]!r}")
    first = response.read1(1 << 20)
    ttfb = time.perf_counter() - start
    size, lines, tail = len(first), first.count(b"\n"), first[-(4 << 20) :]
    while True:
        piece = response.read1(1 << 20)
        if not piece:
            break
        size += len(piece)
        if fmt == "parquet":
            tail = (tail + piece)[-(4 << 20) :]
        else:
            lines += piece.count(b"\n")
    elapsed = time.perf_counter() - start
    sampler.done.set()
    sampler.join()
    cpu = sum(trail.cpu()["web"].values()) - cpu_before
    conn.close()
    rows = _parquet_rows(tail) if fmt == "parquet" else lines - (fmt == "csv")
    return {
        "rows": rows,
        "seconds": elapsed,
        "ttfb_ms": ttfb * 1000,
        "mib": size / 2**20,
        "rss_growth_mib": sampler.peak - base,
        "cpu_s": cpu,
    }


def report_job(trail: Trail, domain: str, date_range: str = "30d") -> dict[str, float]:
    """The dashboard's report zip as an export job, as a program runs it: `POST
    /api/v1/sites/<domain>/exports` `{"kind": "report"}`, then `GET /api/v1/exports/<id>`
    every 50 ms until it is done, then its download; seconds from the POST to `done`."""
    conn = http.client.HTTPConnection("127.0.0.1", trail.port, timeout=600)
    headers = {"Authorization": f"Bearer {trail.key}", "Content-Type": "application/json"}
    body = json.dumps({"kind": "report", "format": "zip", "date_range": date_range})
    start = time.perf_counter()
    conn.request("POST", f"/api/v1/sites/{domain}/exports", body=body, headers=headers)
    created = conn.getresponse()
    answer = json.loads(created.read())
    if created.status != 202:
        raise SystemExit(f"report: {created.status} {answer}")
    while True:
        conn.request("GET", f"/api/v1/exports/{answer['id']}", headers=headers)
        job = json.loads(conn.getresponse().read())
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    done = time.perf_counter() - start
    if job["status"] != "done":
        raise SystemExit(f"report: {job}")
    conn.request("GET", f"/api/v1/exports/{answer['id']}/download", headers=headers)
    size = len(conn.getresponse().read())
    conn.close()
    return {"seconds": done, "rows": job["rows"], "kib": size / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--var", required=True, help="the var dir bench/report_data.py wrote")
    parser.add_argument("--site-domain", default="bench.example.com")
    parser.add_argument("--formats", default="parquet,ndjson")
    parser.add_argument(
        "--report-runs", type=int, default=3, help="report zip jobs of the last 30 days"
    )
    args = parser.parse_args()
    trail = Trail(var=Path(args.var))
    trail.manage("migrate", "--noinput")  # the var dir may predate a migration
    stored = int(
        trail.manage("shell", "-c", COUNT_CODE.format(domain=args.site_domain)).split()[-1]
    )
    trail.key = trail.manage("shell", "-c", KEY_CODE.format(domain=args.site_domain)).split()[-1]
    trail.start()
    try:
        print(
            f"site {args.site_domain}: {stored:,} events stored; Trail pid {trail.procs['web'].pid}"
        )
        print(f"{'format':<9}{'events':>12}{'s':>8}{'events/s':>12}{'target':>11}"
              f"{'TTFB ms':>9}{'MiB':>8}{'+RSS MiB':>10}{'Trail CPU s':>12}{'events/CPU s':>14}")  # fmt: skip
        for fmt in args.formats.split(","):
            export(trail, args.site_domain, fmt, "day")  # warm: the worker has run one
            got = export(trail, args.site_domain, fmt)
            if got["rows"] != stored:
                raise SystemExit(f"{fmt}: {got['rows']:,} rows exported, {stored:,} stored")
            rate = got["rows"] / got["seconds"]
            print(
                f"{fmt:<9}{got['rows']:>12,.0f}{got['seconds']:>8.1f}{rate:>12,.0f}"
                f"{TARGETS[fmt]:>11,}{got['ttfb_ms']:>9.0f}{got['mib']:>8.0f}"
                f"{got['rss_growth_mib']:>10.0f}{got['cpu_s']:>12.1f}"
                f"{got['rows'] / got['cpu_s']:>14,.0f}",
                flush=True,
            )
        for run in range(args.report_runs):
            got = report_job(trail, args.site_domain)
            print(
                f"report zip job, last 30 days, run {run + 1}: {got['seconds']:.2f} s"
                f" (target {REPORT_TARGET_S:.0f} s), {got['rows']:,.0f} CSV rows,"
                f" {got['kib']:,.0f} KiB",
                flush=True,
            )
    finally:
        trail.stop()


if __name__ == "__main__":
    main()
