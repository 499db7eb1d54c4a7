"""The fast way in for Trail's own export (reports/imports/trail_load.py) on real chDB:
ClickHouse stages a good file without a row through Python (the parser is never called),
with exactly the rows the parser would stage; a row ClickHouse refuses sends the file to the
parser, which names the line and column — or takes the file, when only ClickHouse's reading
was stricter; a file without the column set is refused before ClickHouse reads it."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from events.clickhouse import get_client
from events.models import DataJob
from reports.imports import raw, services, trail, trail_load
from reports.imports.rows import BadImportFile
from sites.models import Site
from tests.reports.test_imports_trail import events_of, export, report, start_and_run, traffic

pytestmark = pytest.mark.django_db

Status = DataJob.Status
STAGED = (
    "SELECT toString(event_id) AS event_id, timestamp, name, visitor_id, session_id, hostname,"
    " pathname, referrer, referrer_source, channel, utm_source, utm_medium, country_code,"
    " browser, os, device, screen_size, props, toString(revenue_amount) AS revenue,"
    " revenue_currency, interactive, scroll_depth, engagement_ms"
    " FROM {table} WHERE import_id = {{i:String}} ORDER BY event_id"
)


@pytest.fixture
def original(make_site: Callable[..., Site], seed: Callable[..., None]) -> Site:
    site = make_site("fast-original.example.com")
    seed(site, traffic(site))
    return site


@pytest.fixture
def parser_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the Trail source's parser was asked to read."""
    calls: list[str] = []
    parse = trail.parse

    def counted(path: Path, name: str) -> Iterator[Any]:
        calls.append(name)
        return parse(path, name)

    monkeypatch.setitem(
        services._sources, "trail", dataclasses.replace(services._sources["trail"], handler=counted)
    )
    return calls


def staged_by(stage: Callable[[str], None], import_id: str) -> list[dict[str, Any]]:
    stage(import_id)
    try:
        return get_client().query(
            STAGED.format(table=raw.staging_table(import_id)), {"i": import_id}
        )
    finally:
        raw.drop_staging(import_id)


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "parquet"])
def test_clickhouse_stages_exactly_what_the_parser_stages(
    original: Site, tmp_path: Path, fmt: str
) -> None:
    path = export(original, fmt, tmp_path)

    def parsed(import_id: str) -> None:
        rows = raw.Rows(site_id=original.pk, file_name=path.name, file_sha256="x")
        raw.stage(import_id, [rows.row(event) for event in trail.parse(path, path.name)])

    def loaded(import_id: str) -> None:
        trail_load.load(path, path.name, site_id=original.pk, import_id=import_id)

    by_parser = staged_by(parsed, f"parser-{fmt}")
    by_clickhouse = staged_by(loaded, f"clickhouse-{fmt}")
    assert len(by_clickhouse) == len(traffic(original))
    assert by_clickhouse == by_parser
    purchase = next(row for row in by_clickhouse if row["name"] == "Purchase")
    assert dict(purchase["props"]) == {"plan": "pro", "note": '=HYPERLINK("x")'}
    assert purchase["pathname"] == "/-2+3"
    assert purchase["revenue"] == "12.5"
    engagement = next(row for row in by_clickhouse if row["name"] == "engagement")
    assert (engagement["scroll_depth"], engagement["engagement_ms"]) == (80, 4200)


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "parquet"])
def test_a_good_file_never_passes_through_the_parser_and_reports_match(
    original: Site,
    make_site: Callable[..., Site],
    tmp_path: Path,
    parser_calls: list[str],
    fmt: str,
) -> None:
    path = export(original, fmt, tmp_path)
    copy = make_site(f"fast-copy-{fmt}.example.com")
    job = start_and_run(copy, path)
    assert job.status == Status.DONE, job.error
    assert parser_calls == []
    assert job.rows == len(traffic(original))
    for body in (
        {"metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"]},
        {"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]},
        {"metrics": ["visitors"], "dimensions": ["visit:source", "visit:entry_page"]},
        {"metrics": ["visitors", "events"], "dimensions": ["event:goal"]},
    ):
        assert report(copy, body) == report(original, body)


@pytest.mark.parametrize(
    ("fmt", "spoil", "where"),
    [
        (
            "ndjson",
            lambda text: re.sub(r'"name":"[^"]*"', '"name":""', text, count=1),
            "line 1, column name",
        ),
        ("ndjson", lambda text: text.replace('"timestamp":"', '"timestamp":"x', 1), "line 1"),
        (
            "ndjson",
            lambda text: text.replace('"event_id":"', '"event_id":"nope', 1),
            "line 1, column event_id",
        ),
        ("csv", lambda text: text.replace(",true,", ",maybe,", 1), "line 2, column interactive"),
        (
            "ndjson",
            lambda text: re.sub(r'"props":\{[^}]*\}', '"props":[]', text, count=1),
            "line 1, column props",
        ),
    ],
)
def test_a_row_clickhouse_refuses_is_named_by_the_parser_and_nothing_stays(
    original: Site,
    make_site: Callable[..., Site],
    tmp_path: Path,
    parser_calls: list[str],
    fmt: str,
    spoil: Callable[[str], str],
    where: str,
) -> None:
    path = export(original, fmt, tmp_path)
    path.write_text(spoil(path.read_text()))
    copy = make_site("fast-bad.example.com")
    job = start_and_run(copy, path, name=f"bad.{fmt}")
    assert job.status == Status.FAILED
    assert job.error.startswith(f"bad.{fmt}, {where}"), job.error
    assert parser_calls == [f"bad.{fmt}"]
    assert events_of(copy) == 0
    assert raw.staged(str(job.pk)) == 0


def test_a_file_only_clickhouse_refuses_is_taken_once_by_the_parser(
    original: Site,
    make_site: Callable[..., Site],
    tmp_path: Path,
    parser_calls: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Python reads a UUID in braces; ClickHouse's toUUID does not. The file is staged by
    the parser after ClickHouse refused it part-way, and nothing is doubled."""
    path = export(original, "ndjson", tmp_path)
    lines = path.read_text().splitlines()
    record = json.loads(lines[-1])
    record["event_id"] = "{" + record["event_id"] + "}"
    path.write_text("\n".join([*lines[:-1], json.dumps(record)]) + "\n")
    copy = make_site("fast-braces.example.com")
    with caplog.at_level(logging.INFO, logger="reports.imports.services"):
        job = start_and_run(copy, path, name="braces.ndjson")
    assert job.status == Status.DONE, job.error
    assert parser_calls == ["braces.ndjson"]
    assert "read again row by row" in caplog.text
    assert job.rows == events_of(copy) == len(traffic(original))


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "parquet"])
def test_a_file_without_the_column_set_is_refused_before_clickhouse_reads_it(
    original: Site, tmp_path: Path, fmt: str
) -> None:
    path = export(original, fmt, tmp_path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path).drop_columns(["visit_id"])
        pq.write_table(table, path)
    else:
        path.write_text(path.read_text().replace("visit_id", "visit", 1))
    with pytest.raises(BadImportFile, match="column visit_id: not a Trail export"):
        trail_load.load(path, path.name, site_id=original.pk, import_id="no-columns")
    assert raw.staged("no-columns") == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"\n\n", "line 1: empty file"), (b"PAR1 not really", "not a Parquet file")],
)
def test_empty_and_broken_files_are_named(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "broken"
    path.write_bytes(content)
    with pytest.raises(BadImportFile, match=message):
        trail_load.load(path, "broken", site_id=1, import_id="broken")


def test_deleting_the_site_removes_its_imports_rows_and_jobs(
    original: Site,
    make_site: Callable[..., Site],
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from sites.services import site_delete

    copy = make_site("fast-deleted.example.com")
    done = start_and_run(copy, export(original, "ndjson", tmp_path))
    assert done.status == Status.DONE
    staged = services.import_start(
        site=copy,
        source="trail",
        uploads=[("other.csv", export(original, "csv", tmp_path))],
        actor=None,
    )
    trail_load.load(
        export(original, "csv", tmp_path), "other.csv", site_id=copy.pk, import_id=str(staged.pk)
    )
    assert raw.staged(str(staged.pk)) == len(traffic(original))
    with django_capture_on_commit_callbacks(execute=True):
        site_delete(site=copy)
    assert not DataJob.objects.filter(pk=done.pk).exists()
    assert DataJob.objects.get(pk=staged.pk).status == Status.CANCELLED
    assert raw.staged(str(staged.pk)) == 0
    assert events_of(copy) == 0
    assert events_of(original) == len(traffic(original))
