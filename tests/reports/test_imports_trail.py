"""Imports of Trail's own raw export (reports/imports/services.py, raw.py, trail.py) on real
chDB: the round trip (every Stats API report of the imported site equals the original's,
in NDJSON, CSV and Parquet), invisibility until done, deleting exactly one import, the same
file twice refused, ids not doubled, bad files failing with file/line/column and nothing
kept, another tenant's import 404."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from accounts.errors import NotFound, ServiceError
from events import data_jobs
from events.clickhouse import get_client
from events.models import DataJob
from reports import raw_export
from reports.imports import raw, services, trail_load
from reports.stats import answer
from sites.models import Site
from tests import factories
from tests.reports.conftest import CHROME_ANDROID, SAFARI_MAC, hit

pytestmark = pytest.mark.django_db

Status = DataJob.Status
DAY = dt.datetime.now(dt.UTC).replace(hour=10, minute=0, second=0, microsecond=0) - dt.timedelta(
    days=4
)
MIN = dt.timedelta(minutes=1)
RANGE = [
    (DAY - dt.timedelta(days=2)).date().isoformat(),
    (DAY + dt.timedelta(days=2)).date().isoformat(),
]


def traffic(site: Site) -> list[dict[str, Any]]:
    return [
        hit(site, DAY, "/", ip="192.0.2.10", referrer="https://www.google.com/"),
        hit(site, DAY + MIN, "/pricing", ip="192.0.2.10"),
        hit(site, DAY + 2 * MIN, "/blog", ip="192.0.2.11", user_agent=CHROME_ANDROID),
        hit(site, DAY + 3 * MIN, "/blog", name="Signup", ip="192.0.2.11", props={"plan": "pro"}),
        hit(site, DAY + 4 * MIN, "/", ip="192.0.2.12", referrer="https://duck.com/"),
        hit(site, DAY + 5 * MIN, "/", ip="192.0.2.13", query="?utm_source=news&utm_medium=email"),
        hit(site, DAY + 6 * MIN, "/about", ip="192.0.2.13", user_agent=SAFARI_MAC),
        hit(
            site,
            DAY + 7 * MIN,
            "/-2+3",
            name="Purchase",
            ip="192.0.2.13",
            props={"plan": "pro", "note": '=HYPERLINK("x")'},
            revenue={"amount": "12.50", "currency": "EUR"},
        ),
        hit(site, DAY + 8 * MIN, "/about", name="engagement", ip="192.0.2.13", sd=80, e=4200),
        hit(site, DAY + dt.timedelta(hours=2), "/", ip="192.0.2.10"),  # a second visit
        hit(site, DAY + dt.timedelta(days=1), "/docs", ip="192.0.2.14", user_agent=SAFARI_MAC),
    ]


REPORTS: list[dict[str, Any]] = [
    {
        "metrics": [
            "visitors",
            "visits",
            "pageviews",
            "events",
            "bounce_rate",
            "visit_duration",
            "views_per_visit",
        ]
    },
    {"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]},
    {"metrics": ["visitors", "visits"], "dimensions": ["visit:source"]},
    {"metrics": ["visitors"], "dimensions": ["visit:channel"]},
    {"metrics": ["visitors"], "dimensions": ["visit:country"]},
    {"metrics": ["visitors"], "dimensions": ["visit:device"]},
    {"metrics": ["visitors"], "dimensions": ["visit:browser"]},
    {"metrics": ["visitors"], "dimensions": ["visit:os"]},
    {"metrics": ["visitors", "visits"], "dimensions": ["visit:entry_page"]},
    {"metrics": ["visitors", "visits"], "dimensions": ["visit:exit_page"]},
    {"metrics": ["visitors", "pageviews", "visits"], "dimensions": ["time:day"]},
    {"metrics": ["events"], "dimensions": ["event:name"]},
    {"metrics": ["visitors"], "dimensions": ["visit:utm_source"]},
]


def report(site: Site, body: dict[str, Any]) -> Any:
    found = answer(site=site, body={"site_id": site.domain, "date_range": RANGE, **body})
    return sorted(json.dumps(row, sort_keys=True) for row in found["results"])


def export(site: Site, fmt: str, directory: Path) -> Path:
    directory.mkdir(exist_ok=True)
    request = raw_export.parse_request(site, date_range=RANGE, format=fmt, filters=[])
    path = directory / raw_export.filename(request)
    with path.open("wb") as out:
        for chunk in raw_export.stream(request):
            out.write(chunk)
    return path


def start_and_run(site: Site, path: Path, *, name: str | None = None) -> DataJob:
    job = services.import_start(
        site=site, source="trail", uploads=[(name or path.name, path)], actor=None
    )
    data_jobs.run(job.pk)
    job.refresh_from_db()
    return job


def events_of(site: Site) -> int:
    found = get_client().query(
        "SELECT count() AS n FROM events WHERE site_id = {site:UInt64}", {"site": site.pk}
    )
    return int(found[0]["n"])


@pytest.fixture
def original(make_site: Callable[..., Site], seed: Callable[..., None]) -> Site:
    site = make_site("imports-original.example.com")
    seed(site, traffic(site))
    return site


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "parquet"])
def test_an_imported_trail_export_gives_every_report_of_the_original(
    original: Site, make_site: Callable[..., Site], tmp_path: Path, fmt: str
) -> None:
    path = export(original, fmt, tmp_path)
    copy = make_site("imports-copy.example.com")
    job = start_and_run(copy, path)
    assert job.status == Status.DONE, job.error
    assert job.rows == len(traffic(original)) == events_of(copy)
    for body in REPORTS:
        assert report(copy, body) == report(original, body), body
    # Every event as it was, to its id, visitor and visit: the copy's export is the original's.
    again = export(copy, "ndjson", tmp_path / "again")
    assert sorted(again.read_bytes().splitlines()) == sorted(
        export(original, "ndjson", tmp_path).read_bytes().splitlines()
    )
    described = services.describe(job)
    assert described["status"] == "done" and described["progress"] == 1.0
    assert described["first_day"] == DAY.date().isoformat()
    assert described["last_day"] == (DAY + dt.timedelta(days=1)).date().isoformat()
    assert described["files"][0]["name"] == path.name


def _rollup_rows(site: Site) -> list[dict[str, Any]]:
    client = get_client()
    events = client.query(
        "SELECT dimension, timestamp, name, pathname, uniqExactMerge(visitors) AS visitors,"
        " sum(pageviews) AS pageviews, sum(events) AS events FROM rollup_events"
        " WHERE site_id = {s:UInt64} GROUP BY dimension, timestamp, name, pathname"
        " ORDER BY dimension, timestamp, name, pathname",
        {"s": site.pk},
    )
    sessions = client.query(
        "SELECT dimension, start, timestamp, entry_page, referrer_source, channel, country_code,"
        " device, browser, os, uniqExactMerge(visitors) AS visitors, sum(visits) AS visits,"
        " sum(pageviews) AS pageviews, sum(bounces) AS bounces, sum(duration) AS duration"
        " FROM rollup_sessions WHERE site_id = {s:UInt64} GROUP BY ALL"
        " HAVING visits != 0 ORDER BY ALL",
        {"s": site.pk},
    )
    return [*events, *sessions]


@pytest.mark.usefixtures("rollups_on")
def test_with_rollups_on_an_import_is_rolled_up(
    original: Site, make_site: Callable[..., Site], tmp_path: Path
) -> None:
    """Publishing attaches the staged parts (no insert a rollup view would see): the
    imported days' rollups are then recomputed, and equal a recomputation from raw rows."""
    from events.rollups import raw_days, rebuild_days

    copy = make_site("imports-rolled-up.example.com")
    job = start_and_run(copy, export(original, "parquet", tmp_path))
    assert job.status == Status.DONE, job.error
    published = _rollup_rows(copy)
    assert sum(int(row.get("events", 0)) for row in published if row["dimension"] == "") == len(
        [event for event in traffic(original) if event.get("name", "pageview") != "engagement"]
    )
    rebuild_days(copy.pk, raw_days(copy.pk))
    assert _rollup_rows(copy) == published


def test_nothing_is_visible_until_the_import_completes(
    original: Site, make_site: Callable[..., Site], tmp_path: Path
) -> None:
    path = export(original, "ndjson", tmp_path)
    copy = make_site("imports-staged.example.com")
    job = services.import_start(site=copy, source="trail", uploads=[(path.name, path)], actor=None)
    seen: list[int] = []
    publish = raw.publish

    def watching(**kwargs: Any) -> int:
        seen.append(events_of(copy))  # everything staged, nothing published yet
        seen.append(raw.staged(str(job.pk)))
        return publish(**kwargs)

    raw.publish = watching  # type: ignore[assignment]
    try:
        data_jobs.run(job.pk)
    finally:
        raw.publish = publish  # type: ignore[assignment]
    assert seen == [0, len(traffic(original))]
    assert events_of(copy) == len(traffic(original))
    assert raw.staged(str(job.pk)) == 0  # the staging rows are gone
    assert raw.staging_table(str(job.pk)) not in raw.staging_tables()


def test_deleting_an_import_removes_exactly_its_rows(
    original: Site, make_site: Callable[..., Site], seed: Callable[..., None], tmp_path: Path
) -> None:
    copy = make_site("imports-delete.example.com")
    seed(copy, [hit(copy, DAY, "/native", ip="192.0.2.99")])
    visits_before = report(copy, REPORTS[0])
    job = start_and_run(copy, export(original, "csv", tmp_path))
    assert events_of(copy) == 1 + len(traffic(original))
    services.import_delete(job=job)
    assert events_of(copy) == 1
    assert report(copy, REPORTS[0]) == visits_before
    assert not DataJob.objects.filter(pk=job.pk).exists()


def test_the_same_file_twice_is_refused_naming_the_earlier_import(
    original: Site, make_site: Callable[..., Site], tmp_path: Path
) -> None:
    path = export(original, "ndjson", tmp_path)
    copy = make_site("imports-twice.example.com")
    first = start_and_run(copy, path)
    with pytest.raises(ServiceError) as refused:
        services.import_start(
            site=copy, source="trail", uploads=[("again.ndjson", path)], actor=None
        )
    assert refused.value.field == "file" and str(first.pk) in str(refused.value)


def test_events_whose_ids_exist_are_not_doubled(
    original: Site, make_site: Callable[..., Site], tmp_path: Path
) -> None:
    path = export(original, "ndjson", tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    part = tmp_path / "part.ndjson"
    part.write_bytes(b"".join(lines[:4]))
    # Into the original site itself: every id exists already.
    job = start_and_run(original, path)
    assert job.status == Status.DONE and job.rows == 0
    assert events_of(original) == len(traffic(original))
    # A part, then the whole: the whole adds only what the part did not have.
    copy = make_site("imports-overlap.example.com")
    assert start_and_run(copy, part).rows == 4
    whole = start_and_run(copy, path)
    assert whole.rows == len(traffic(original)) - 4
    assert events_of(copy) == len(traffic(original))


@pytest.mark.parametrize(
    ("fmt", "spoil", "where"),
    [
        ("csv", lambda text: text.replace("event_id", "id", 1), "line 1, column event_id"),
        (
            "ndjson",
            lambda text: text.replace('"visitor_id":"', '"visitor_id":"x', 1),
            "line 1, column visitor_id",
        ),
        (
            "csv",
            lambda text: _spoil_csv_cell(text, 3, "timestamp", "yesterday"),
            "line 3, column timestamp",
        ),
        ("ndjson", lambda text: text + "{not json\n", "the last line"),
    ],
)
def test_a_bad_file_fails_naming_file_line_and_column_and_keeps_nothing(
    original: Site,
    make_site: Callable[..., Site],
    tmp_path: Path,
    fmt: str,
    spoil: Callable[[str], str],
    where: str,
) -> None:
    path = export(original, fmt, tmp_path)
    path.write_text(spoil(path.read_text()))
    if where == "the last line":
        where = f"line {len(path.read_text().splitlines())}"
    copy = make_site("imports-bad.example.com")
    job = start_and_run(copy, path, name=f"bad.{fmt}")
    assert job.status == Status.FAILED
    assert job.error.startswith(f"bad.{fmt}, {where}"), job.error
    assert events_of(copy) == 0
    assert raw.staged(str(job.pk)) == 0
    assert raw.staging_table(str(job.pk)) not in raw.staging_tables()


def _spoil_csv_cell(text: str, line: int, column: str, value: str) -> str:
    rows = text.splitlines(keepends=True)
    header = rows[0].rstrip("\n").replace('"', "").split(",")
    cells = rows[line - 1].split(",")
    cells[header.index(column)] = value
    rows[line - 1] = ",".join(cells)
    return "".join(rows)


def test_a_cancelled_import_keeps_nothing(
    original: Site, make_site: Callable[..., Site], tmp_path: Path
) -> None:
    path = export(original, "ndjson", tmp_path)
    copy = make_site("imports-cancel.example.com")
    job = services.import_start(site=copy, source="trail", uploads=[(path.name, path)], actor=None)
    publish = raw.publish

    def cancelled_meanwhile(**kwargs: Any) -> int:
        published = publish(**kwargs)
        data_jobs.cancel(job)  # the person cancels as it publishes
        return published

    raw.publish = cancelled_meanwhile  # type: ignore[assignment]
    try:
        assert data_jobs.run(job.pk) == Status.CANCELLED
    finally:
        raw.publish = publish  # type: ignore[assignment]
    assert events_of(copy) == 0


def test_another_tenants_import_is_not_found(
    original: Site, make_site: Callable[..., Site], tmp_path: Path
) -> None:
    job = start_and_run(make_site("imports-mine.example.com"), export(original, "csv", tmp_path))
    stranger = factories.user()
    factories.organization(owner=stranger)
    with pytest.raises(NotFound):
        services.import_get_for_actor(actor=stranger, import_id=job.pk)
    with pytest.raises(NotFound):
        services.import_get_for_actor(actor=stranger, import_id="not-a-uuid")


def test_unknown_source_and_no_file_are_refused_naming_the_field(
    original: Site, tmp_path: Path
) -> None:
    path = tmp_path / "x.ndjson"
    path.write_text("{}\n")
    with pytest.raises(ServiceError) as unknown:
        services.import_start(site=original, source="matomo", uploads=[("x", path)], actor=None)
    assert unknown.value.field == "source"
    with pytest.raises(ServiceError) as none:
        services.import_start(site=original, source="trail", uploads=[], actor=None)
    assert none.value.field == "file"


def test_the_sweep_removes_what_a_crashed_import_left(
    original: Site, make_site: Callable[..., Site], tmp_path: Path
) -> None:
    path = export(original, "ndjson", tmp_path)
    copy = make_site("imports-crashed.example.com")
    job = services.import_start(site=copy, source="trail", uploads=[(path.name, path)], actor=None)
    rows = raw.Rows(site_id=copy.pk, file_name=path.name, file_sha256="0" * 64)
    from reports.imports import trail

    raw.stage(str(job.pk), [rows.row(event) for event in trail.parse(path, path.name)])
    raw.publish(site_id=copy.pk, import_id=str(job.pk))  # killed right after the move
    assert events_of(copy) == len(traffic(original))
    services.sweep()  # (other tests' leftovers go: their jobs were rolled back)
    assert events_of(copy) == len(traffic(original))  # still queued: left alone
    DataJob.objects.filter(pk=job.pk).update(status=Status.FAILED, error="interrupted")
    assert services.sweep() >= 1
    assert events_of(copy) == 0


def test_the_sweep_leaves_a_running_import_alone_and_drops_an_abandoned_ones_staging(
    original: Site,
    make_site: Callable[..., Site],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An import that starts while the sweep runs keeps its staging (the jobs' statuses
    are read after ClickHouse is listed); the staging table of an import that failed
    before its first row is dropped; a publish whose staging was removed fails the job."""
    path = export(original, "parquet", tmp_path)
    copy = make_site("imports-swept-meanwhile.example.com")
    started: list[DataJob] = []
    listing = raw.staging_tables

    def import_starts_meanwhile() -> list[str]:
        if not started:  # the import starts as the sweep begins
            job = services.import_start(
                site=copy, source="trail", uploads=[(path.name, path)], actor=None
            )
            DataJob.objects.filter(pk=job.pk).update(status=Status.RUNNING)
            trail_load.load(path, path.name, site_id=copy.pk, import_id=str(job.pk))
            started.append(job)
        return listing()

    monkeypatch.setattr(raw, "staging_tables", import_starts_meanwhile)
    empty = make_site("imports-abandoned-empty.example.com")
    abandoned = services.import_start(
        site=empty, source="trail", uploads=[(path.name, path)], actor=None
    )
    raw.prepare(str(abandoned.pk))  # made at the job's start; the process then died
    DataJob.objects.filter(pk=abandoned.pk).update(status=Status.FAILED, error="interrupted")
    services.sweep()
    [running] = started
    assert raw.staged(str(running.pk)) == len(traffic(original))
    assert raw.staging_table(str(abandoned.pk)) not in raw.staging_tables()
    raw.drop_staging(str(running.pk))  # as a wrongly swept import would find it
    with pytest.raises(LookupError):
        raw.publish(site_id=copy.pk, import_id=str(running.pk))
    assert events_of(copy) == 0


def test_several_files_in_one_import_and_names_that_try_to_climb(
    original: Site, make_site: Callable[..., Site], tmp_path: Path
) -> None:
    path = export(original, "ndjson", tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    first, second = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    first.write_bytes(b"".join(lines[:5]))
    second.write_bytes(b"".join(lines[5:]))
    copy = make_site("imports-several.example.com")
    job = services.import_start(
        site=copy,
        source="trail",
        uploads=[("../../etc/a.ndjson", first), ("/abs/b.ndjson", second)],
        actor=None,
    )
    assert [f["name"] for f in services.describe(job)["files"]] == ["a.ndjson", "b.ndjson"]
    data_jobs.run(job.pk)
    job.refresh_from_db()
    assert job.status == Status.DONE and job.rows == len(lines) == events_of(copy)
    assert not (services.imports_dir() / job.parameters["directory"]).exists()  # files gone


def test_deleting_a_queued_import_cancels_it_and_it_never_runs(
    original: Site, make_site: Callable[..., Site], tmp_path: Path
) -> None:
    path = export(original, "ndjson", tmp_path)
    copy = make_site("imports-cancel-queued.example.com")
    job = services.import_start(site=copy, source="trail", uploads=[(path.name, path)], actor=None)
    services.import_delete(job=job)
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    assert not (services.imports_dir() / job.parameters["directory"]).exists()  # files gone
    assert data_jobs.run(job.pk) == Status.CANCELLED
    assert events_of(copy) == 0
    assert services.imports_for_site(site=copy) == [job]


def test_a_parquet_cell_of_the_wrong_type_names_its_row_and_column(
    original: Site, make_site: Callable[..., Site], tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = export(original, "parquet", tmp_path)
    table = pq.read_table(path)
    index = table.schema.get_field_index("visitor_id")
    spoiled = ["x" if row == 2 else str(v) for row, v in enumerate(table["visitor_id"].to_pylist())]
    table = table.set_column(index, "visitor_id", pa.array(spoiled))
    pq.write_table(table, path)
    copy = make_site("imports-bad-parquet.example.com")
    job = start_and_run(copy, path, name="bad.parquet")
    assert job.status == Status.FAILED
    assert job.error.startswith("bad.parquet, line 3, column visitor_id"), job.error
    assert events_of(copy) == 0


def test_a_file_that_is_not_an_export_fails_and_keeps_nothing(
    make_site: Callable[..., Site], tmp_path: Path
) -> None:
    site = make_site("imports-not-export.example.com")
    for name, content in [
        ("x.parquet", b"PAR1 not really"),
        ("x.csv", b"a,b\n1,2\n"),
        ("x.ndjson", b'{"a": 1}\n'),
        ("x.csv", b"\xff\xfe\x00bad"),
    ]:
        path = tmp_path / name
        path.write_bytes(content)
        job = start_and_run(site, path)
        assert job.status == Status.FAILED and job.error.startswith(name), job.error
        DataJob.objects.filter(pk=job.pk).delete()
    assert events_of(site) == 0
