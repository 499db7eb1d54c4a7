"""Imports measured as a user meets them, against a running Trail (embedded): a raw import
of Trail's own export end to end (upload, job, visible in the Stats API) per format, the
Trail process's RSS growth over a multi-GB upload and its import, and a 3-year Plausible
CSV export zip.

    .venv/bin/python bench/imports.py --var /tmp/trail-bench-1m [--formats parquet,ndjson]
        [--upload-mib 2048] [--plausible-years 3] [--repeat 1]

The var dir is bench/report_data.py's (`--var DIR --events N`). Trail is started on it with
`manage.py serve` (bench/trail_proc.py); the site's raw events are exported through the API
(`GET …/events/export?date_range=all&format=F`) into files, then each file is uploaded to a
new site of the same organization (`POST /api/v1/sites/<domain>/imports`, multipart, sent
from disk with its Content-Length, as curl sends it) and the import followed (`GET
/api/v1/imports/<id>` every 50 ms) until `done`; the Stats API's event count of the new
site must then equal the original's. Printed per format: seconds of the upload and of the
job, events/s of the job and end to end (upload + job), the web process's peak RSS
growth over both (sampled every 50 ms), and the web process's CPU seconds (user + system,
all threads) over both, with events per CPU second: on a loaded machine, what the import
would reach with the cores to itself. Part of that CPU is the benchmark's own polling (a
poll's CPU is measured after the job, over 20 more polls of the finished job: printed as
the polls' estimated CPU). `--repeat N` imports each format N times (a new site
each time).

The big upload repeats the NDJSON export's lines until the file is `--upload-mib` MiB (the
repeated events have the ids of the first copy, so the import stores each once: the figure is
the process's memory over a file that size, upload and import). The Plausible zip is
generated here: every `imported_*.csv` of Plausible's export (the columns Trail reads,
reports/imports/plausible.py), one row per day and dimension value over `--plausible-years`
years.

Targets (issue 18): Parquet >= 300,000 events/s, NDJSON >= 100,000/s end to end; a 2 GB
upload grows the process's RSS by <= 200 MB; a 3-year Plausible zip <= 10 s.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import http.client
import io
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import django
from exports import Sampler
from trail_proc import Trail

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trail.settings")
django.setup()  # for the Plausible files' columns; no database or ClickHouse is opened

from reports.imports.plausible import FILES  # noqa: E402

TARGETS = {"parquet": 300_000, "ndjson": 100_000, "csv": 100_000}
RSS_TARGET_MIB = 200
PLAUSIBLE_TARGET_S = 10.0
SETUP_CODE = """
from accounts.models import ApiKey, Membership, Role, User
from accounts.services import api_key_create
from sites.models import Site
site = Site.objects.get(domain={domain!r}, deleted_at__isnull=True)
owner = User.objects.filter(email="bench-imports@trail-bench.com").first() or (
    User.objects.create_user(email="bench-imports@trail-bench.com", password=None))
Membership.objects.get_or_create(user=owner, organization=site.organization,
                                 defaults={{"role": Role.OWNER}})
for domain in {targets!r}:
    Site.objects.create(domain=domain, organization=site.organization, timezone="UTC")
key, raw = api_key_create(organization=site.organization, actor=owner, name="bench imports",
                          scopes=["stats:read", "sites:manage"])
ApiKey.objects.filter(pk=key.pk).update(rate_limit_per_minute=10**6)
print(raw)
"""
CHUNK = 1 << 20


def _connection(trail: Trail) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", trail.port, timeout=3600)


def download(trail: Trail, domain: str, fmt: str, path: Path) -> None:
    conn = _connection(trail)
    conn.request(
        "GET",
        f"/api/v1/sites/{domain}/events/export?date_range=all&format={fmt}",
        headers={"Authorization": f"Bearer {trail.key}", "Accept-Encoding": "identity"},
    )
    response = conn.getresponse()
    if response.status != 200:
        raise SystemExit(f"export {fmt}: {response.status} {response.read()[:300]!r}")
    with path.open("wb") as out:
        while piece := response.read1(CHUNK):
            out.write(piece)
    conn.close()


def _multipart(source: str, path: Path) -> tuple[str, int, Iterator[bytes]]:
    """A multipart body (`source`, one `file`) read from disk as it is sent."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="source"\r\n\r\n{source}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def parts() -> Iterator[bytes]:
        yield head
        with path.open("rb") as file:
            while piece := file.read(CHUNK):
                yield piece
        yield tail

    length = len(head) + path.stat().st_size + len(tail)
    return f"multipart/form-data; boundary={boundary}", length, parts()


def import_file(trail: Trail, domain: str, source: str, path: Path) -> dict[str, float]:
    """Upload, then follow the job to its end; seconds of each, rows, peak RSS growth."""
    sampler = Sampler(trail.procs["web"].pid)
    base = sampler.peak
    sampler.start()
    cpu_start = sum(trail.cpu()["web"].values())
    content_type, length, body = _multipart(source, path)
    conn = _connection(trail)
    start = time.perf_counter()
    conn.putrequest("POST", f"/api/v1/sites/{domain}/imports")
    for name, value in (
        ("Authorization", f"Bearer {trail.key}"),
        ("Content-Type", content_type),
        ("Content-Length", str(length)),
    ):
        conn.putheader(name, value)
    conn.endheaders()
    for piece in body:
        conn.send(piece)
    created = conn.getresponse()
    answer = json.loads(created.read())
    uploaded = time.perf_counter()
    cpu_uploaded = sum(trail.cpu()["web"].values())
    upload_peak = sampler.peak
    if created.status != 202:
        raise SystemExit(f"import {path.name}: {created.status} {answer}")
    headers = {"Authorization": f"Bearer {trail.key}"}
    polls = 0
    while True:
        polls += 1
        conn.request("GET", f"/api/v1/imports/{answer['id']}", headers=headers)
        job = json.loads(conn.getresponse().read())
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    done = time.perf_counter()
    cpu_done = sum(trail.cpu()["web"].values())
    sampler.done.set()
    sampler.join()
    if job["status"] != "done":
        raise SystemExit(f"import {path.name}: {job}")
    cpu_polled = sum(trail.cpu()["web"].values())
    for _ in range(20):  # what a poll costs the web process, the job done
        conn.request("GET", f"/api/v1/imports/{answer['id']}", headers=headers)
        conn.getresponse().read()
    poll_cpu = (sum(trail.cpu()["web"].values()) - cpu_polled) / 20
    conn.close()
    return {
        "poll_cpu_s": poll_cpu,
        "upload_s": uploaded - start,
        "job_s": done - uploaded,
        "upload_cpu_s": cpu_uploaded - cpu_start,
        "job_cpu_s": cpu_done - cpu_uploaded,
        "polls": polls,
        "rows": job["rows"],
        "rss_growth_mib": sampler.peak - base,
        "upload_rss_growth_mib": upload_peak - base,
        "mib": path.stat().st_size / 2**20,
    }


def stats_events(trail: Trail, domain: str) -> int:
    conn = _connection(trail)
    body = json.dumps({"site_id": domain, "metrics": ["events"], "date_range": "all"})
    conn.request(
        "POST",
        "/api/v2/query",
        body=body,
        headers={"Authorization": f"Bearer {trail.key}", "Content-Type": "application/json"},
    )
    answer = json.loads(conn.getresponse().read())
    conn.close()
    return int(answer["results"][0]["metrics"][0])


def repeated(source: Path, target: Path, mib: int) -> Path:
    """`source`'s lines again and again until `target` holds `mib` MiB."""
    with target.open("wb") as out:
        while out.tell() < mib << 20:
            with source.open("rb") as file:
                shutil.copyfileobj(file, out, CHUNK)
    return target


def _value(column: str, kind: str, day: dt.date, i: int) -> object:
    countries = ("US", "DE", "FR", "GB", "IN", "BR", "JP", "CA", "PL", "NL")
    if kind == "date":
        return day.isoformat()
    if column == "country":
        return countries[i % len(countries)]
    if column == "device":
        return ("Desktop", "Mobile", "Tablet")[i % 3]
    if column in ("page", "entry_page", "exit_page", "path"):
        return f"/page-{i}"
    if column == "name":
        return ("Signup", "Outbound Link: Click", "File Download")[i % 3]
    if kind == "text":
        return f"{column}-{i}"
    return {"visitors": 5, "visits": 6, "pageviews": 12, "bounces": 2, "events": 7}.get(
        column, 3 + i % 5
    )


def plausible_zip(path: Path, years: int, values_per_day: int) -> int:
    """Plausible's export zip of `years` years; the rows written."""
    last = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    days = [last - dt.timedelta(days=n) for n in range(365 * years)][::-1]
    rows = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for table, columns in FILES.items():
            text = io.StringIO()
            writer = csv.writer(text)
            used = [c for c in columns if c.required or c.kind != "number"]
            writer.writerow([c.name for c in used])
            per_day = 1 if table == "imported_visitors" else values_per_day
            for day in days:
                for i in range(per_day):
                    writer.writerow([_value(c.name, c.kind, day, i) for c in used])
                    rows += 1
            name = f"{table}_{days[0]:%Y%m%d}_{days[-1]:%Y%m%d}.csv"
            archive.writestr(name, text.getvalue())
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--var", required=True, help="the var dir bench/report_data.py wrote")
    parser.add_argument("--site-domain", default="bench.example.com")
    parser.add_argument("--formats", default="parquet,ndjson")
    parser.add_argument("--repeat", type=int, default=1, help="imports of each format")
    parser.add_argument("--upload-mib", type=int, default=2048, help="0: no big upload")
    parser.add_argument("--plausible-years", type=int, default=3, help="0: no Plausible zip")
    parser.add_argument("--plausible-values", type=int, default=30, help="rows per day per file")
    args = parser.parse_args()
    formats = args.formats.split(",")
    run = uuid.uuid4().hex[:6]
    names = [f"{fmt}-{n}" for fmt in formats for n in range(args.repeat)]
    targets = {name: f"import-{name}-{run}.example.com" for name in [*names, "big", "plausible"]}
    trail = Trail(var=Path(args.var))
    trail.manage("migrate", "--noinput")
    trail.manage("clickhouse_migrate")
    setup = SETUP_CODE.format(domain=args.site_domain, targets=list(targets.values()))
    trail.key = trail.manage("shell", "-c", setup).split()[-1]
    work = Path(tempfile.mkdtemp(prefix="trail-bench-imports-"))
    trail.start()
    try:
        stored = stats_events(trail, args.site_domain)
        print(
            f"site {args.site_domain}: {stored:,} events (the Stats API's `events`: engagement"
            f" not counted); Trail pid {trail.procs['web'].pid}"
        )
        print(f"{'format':<9}{'events':>11}{'MiB':>7}{'upload s':>10}{'job s':>8}"
              f"{'job ev/s':>11}{'end-to-end ev/s':>17}{'target':>9}{'+RSS MiB':>10}"
              f"{'CPU s':>8}{'(upload':>8}{'+ job)':>7}{'ev/CPU s':>10}{'polls':>6}{'polls CPU s':>12}")  # fmt: skip
        files = {}
        for fmt in formats:
            files[fmt] = work / f"export.{fmt}"
            download(trail, args.site_domain, fmt, files[fmt])
            for attempt in range(args.repeat):
                domain = targets[f"{fmt}-{attempt}"]
                got = import_file(trail, domain, "trail", files[fmt])
                visible = stats_events(trail, domain)
                if visible != stored:
                    raise SystemExit(
                        f"{fmt}: {visible:,} events in the Stats API, {stored:,} before"
                    )
                total = got["upload_s"] + got["job_s"]
                cpu = got["upload_cpu_s"] + got["job_cpu_s"]
                print(
                    f"{fmt:<9}{got['rows']:>11,.0f}{got['mib']:>7.0f}{got['upload_s']:>10.1f}"
                    f"{got['job_s']:>8.1f}{got['rows'] / got['job_s']:>11,.0f}"
                    f"{got['rows'] / total:>17,.0f}{TARGETS[fmt]:>9,}{got['rss_growth_mib']:>10.0f}"
                    f"{cpu:>8.1f}{got['upload_cpu_s']:>8.1f}{got['job_cpu_s']:>7.1f}"
                    f"{got['rows'] / cpu:>10,.0f}{got['polls']:>6}"
                    f"{got['polls'] * got['poll_cpu_s']:>12.1f}",
                    flush=True,
                )
        if args.upload_mib:
            source = files.get("ndjson") or work / "export.ndjson"
            if not source.exists():
                download(trail, args.site_domain, "ndjson", source)
            big = repeated(source, work / "big.ndjson", args.upload_mib)
            got = import_file(trail, targets["big"], "trail", big)
            print(
                f"big upload: {got['mib']:,.0f} MiB NDJSON uploaded in {got['upload_s']:.1f} s,"
                f" imported in {got['job_s']:.1f} s ({got['rows']:,} distinct events);"
                f" web process RSS +{got['upload_rss_growth_mib']:.0f} MiB over the upload,"
                f" +{got['rss_growth_mib']:.0f} MiB with the import (target {RSS_TARGET_MIB})",
                flush=True,
            )
            big.unlink()
        if args.plausible_years:
            archive = work / "plausible-export.zip"
            rows = plausible_zip(archive, args.plausible_years, args.plausible_values)
            got = import_file(trail, targets["plausible"], "plausible_csv", archive)
            print(
                f"Plausible zip: {args.plausible_years} years, {rows:,} rows,"
                f" {got['mib']:.1f} MiB: upload {got['upload_s']:.1f} s + job"
                f" {got['job_s']:.1f} s = {got['upload_s'] + got['job_s']:.1f} s"
                f" (target {PLAUSIBLE_TARGET_S:.0f} s)",
                flush=True,
            )
    finally:
        trail.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
