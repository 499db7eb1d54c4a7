"""Plausible's CSV export imported as daily aggregates (reports/imports/plausible.py) and
added to Stats API answers with `include.imports` (reports/sql/imported.py, runner).

The site has Trail's own traffic on day N (3 days ago): two visitors, one page view each
(both bounce, 0 s). The zip the test writes, in Plausible's format, holds days I1..I3 (40
to 38 days ago) and one row on N, which the import drops (N is Trail's own day). Expected
numbers are computed here from the zip's rows and the raw events sent.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from events.clickhouse import get_client
from reports.imports import plausible
from reports.imports.rows import BadImportFile
from reports.stats import answer
from sites.models import Site
from tests import factories
from tests.reports.conftest import CHROME_ANDROID, FIREFOX, drop_seeded, hit, post_json, seed_sites

TODAY = dt.datetime.now(dt.UTC).date()
N = TODAY - dt.timedelta(days=3)
I1, I2, I3 = (TODAY - dt.timedelta(days=d) for d in (40, 39, 38))
RANGE = [I1.isoformat(), N.isoformat()]
IMPORT_ID = 9_000_001

# (date, visitors, pageviews, bounces, visits, visit_duration)
VISITORS = [
    (I1, 10, 30, 4, 12, 600),
    (I2, 20, 50, 10, 25, 1000),
    (I3, 5, 9, 5, 6, 0),
    (N, 1000, 1000, 1000, 1000, 1000),  # dropped: Trail has events that day
]
# (date, source, visitors, visits, bounces, visit_duration, pageviews)
SOURCES = [
    (I1, "Google", 6, 7, 2, 300, 20),
    (I1, "", 4, 5, 2, 300, 10),
    (I2, "Google", 20, 25, 10, 1000, 50),
]
# (date, page, visitors, pageviews)
PAGES = [(I1, "/", 8, 20), (I1, "/blog", 3, 10), (I2, "/", 15, 50), (I3, "/about", 5, 9)]
# (date, country, visitors, visits, pageviews)
LOCATIONS = [(I1, "FR", 10, 12, 30), (I2, "DE", 12, 15, 30), (I2, "FR", 8, 10, 20)]


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[str(v) for v in row] for row in rows])
    return out.getvalue()


def export_files() -> dict[str, str]:
    span = f"{I1:%Y%m%d}_{N:%Y%m%d}"
    return {
        f"imported_visitors_{span}.csv": csv_text(
            ["date", "visitors", "pageviews", "bounces", "visits", "visit_duration"],
            [list(r) for r in VISITORS],
        ),
        f"imported_sources_{span}.csv": csv_text(
            ["date", "source", "referrer", "utm_source", "utm_medium", "utm_campaign"]
            + ["utm_content", "utm_term", "pageviews", "visitors", "visits"]
            + ["visit_duration", "bounces"],
            [
                [d, s, "", "", "", "", "", "", pv, v, vi, dur, b]
                for d, s, v, vi, b, dur, pv in SOURCES
            ],
        ),
        f"imported_pages_{span}.csv": csv_text(
            ["date", "hostname", "page", "visits", "visitors", "pageviews", "exits"]
            + ["time_on_page"],
            [[d, "example.com", p, v, v, pv, v, 0] for d, p, v, pv in PAGES],
        ),
        f"imported_locations_{span}.csv": csv_text(
            ["date", "country", "region", "city", "pageviews", "visitors", "visits"]
            + ["visit_duration", "bounces"],
            [[d, c, "", 0, pv, v, vi, 0, 0] for d, c, v, vi, pv in LOCATIONS],
        ),
        f"imported_devices_{span}.csv": csv_text(
            ["date", "device", "visitors", "visits", "visit_duration", "bounces", "pageviews"],
            [[I1, "Desktop", 10, 12, 600, 4, 30]],
        ),
    }


def write_zip(path: Path, files: Mapping[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def native(site: Site) -> list[dict[str, Any]]:
    at = dt.datetime.combine(N, dt.time(12), tzinfo=dt.UTC)
    return [
        hit(site, at, "/", ip="198.51.100.7", user_agent=FIREFOX),
        hit(site, at, "/blog", ip="198.51.100.8", user_agent=CHROME_ANDROID),
    ]


NATIVE_VISITORS = 2  # each a visit of one page view: a bounce of 0 s


def imported_rows(site_id: int, import_id: int | str) -> int:
    total = 0
    for table in plausible.FILES:
        [row] = get_client().query(
            f"SELECT count() AS n FROM {table} WHERE site_id = {{s:UInt64}}"  # noqa: S608
            " AND import_id IN ({i:String}, {staged:String})",
            {"s": site_id, "i": str(import_id), "staged": f"staging:{import_id}"},
        )
        total += int(row["n"])
    return total


@pytest.fixture(scope="module")
def sites(
    django_db_setup: None, django_db_blocker: Any, clickhouse: Any, tmp_path_factory: Any
) -> Iterator[dict[str, Site]]:
    made = seed_sites(
        django_db_blocker,
        clickhouse,
        {"main": ("imports-plausible-trail.com", "UTC"), "empty": ("no-imports.test", "UTC")},
        lambda site: native(site) if site.domain.startswith("imports") else [],
    )
    path = write_zip(tmp_path_factory.mktemp("plausible") / "export.zip", export_files())
    made["result"] = plausible.run(  # type: ignore[assignment]
        site=made["main"], import_id=IMPORT_ID, path=path, progress=lambda *a, **k: None
    )
    yield made
    plausible.delete(made["main"].id, IMPORT_ID)
    drop_seeded(django_db_blocker, {k: v for k, v in made.items() if k != "result"})


@pytest.fixture
def key(sites: dict[str, Site], db: None) -> str:
    _, raw = factories.api_key(sites["main"].organization, scopes=("stats:read",))
    return raw


def ask(client: Any, key: str, site: Site, **body: Any) -> dict[str, Any]:
    body.setdefault("date_range", RANGE)
    answer = post_json(client, "/api/v2/query", {"site_id": site.domain, **body}, key)
    assert answer.status_code == 200, answer.content
    return dict(answer.json())


def test_the_import_reports_rows_per_file_and_its_days(sites: dict[str, Any]) -> None:
    result = sites["result"]
    assert result["files"]["imported_visitors"] == len(VISITORS) - 1
    assert result["files"]["imported_pages"] == len(PAGES)
    assert result["skipped_rows"] == 1
    assert (result["first_day"], result["last_day"]) == (I1.isoformat(), I3.isoformat())


def test_top_stats_add_imported_days_and_drop_them_without_imports(
    client: Any, key: str, sites: dict[str, Site]
) -> None:
    metrics = ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"]
    kept = VISITORS[:-1]
    visitors = sum(r[1] for r in kept) + NATIVE_VISITORS
    pageviews = sum(r[2] for r in kept) + NATIVE_VISITORS
    bounces = sum(r[3] for r in kept) + NATIVE_VISITORS
    visits = sum(r[4] for r in kept) + NATIVE_VISITORS
    seconds = sum(r[5] for r in kept)
    on = ask(client, key, sites["main"], metrics=metrics, include={"imports": True})
    assert on["meta"]["imports_included"] is True
    assert on["results"][0]["metrics"] == [
        visitors,
        visits,
        pageviews,
        round(100 * bounces / visits),
        round(seconds / visits),
    ]
    for include in ({"imports": False}, {}):
        off = ask(client, key, sites["main"], metrics=metrics, include=include)
        assert off["meta"]["imports_included"] is False
        assert "imports_skip_reason" not in off["meta"]
        assert off["results"][0]["metrics"] == [2, 2, 2, 100, 0]


def test_the_time_series_shows_each_imported_day(
    client: Any, key: str, sites: dict[str, Site]
) -> None:
    body = {"metrics": ["visitors", "pageviews"], "dimensions": ["time:day"]}
    on = ask(client, key, sites["main"], **body, include={"imports": True})
    by_day = {r["dimensions"][0]: r["metrics"] for r in on["results"]}
    for day, visitors, pageviews, *_ in VISITORS[:-1]:
        assert by_day[day.isoformat()] == [visitors, pageviews]
    assert by_day[N.isoformat()] == [NATIVE_VISITORS, NATIVE_VISITORS]
    off = ask(client, key, sites["main"], **body)
    assert [r["dimensions"][0] for r in off["results"]] == [N.isoformat()]


def test_monthly_buckets_sum_imported_days(client: Any, key: str, sites: dict[str, Site]) -> None:
    on = ask(
        client,
        key,
        sites["main"],
        metrics=["visitors"],
        dimensions=["time:month"],
        include={"imports": True},
    )
    assert (
        sum(r["metrics"][0] for r in on["results"])
        == sum(r[1] for r in VISITORS[:-1]) + NATIVE_VISITORS
    )


def test_breakdowns_by_source_page_and_country_add_imported_rows(
    client: Any, key: str, sites: dict[str, Site]
) -> None:
    site = sites["main"]
    sources = ask(
        client, key, site, metrics=["visitors", "visits"], dimensions=["visit:source"],
        include={"imports": True},
    )  # fmt: skip
    got = {r["dimensions"][0]: r["metrics"] for r in sources["results"]}
    google = [r for r in SOURCES if r[1] == "Google"]
    direct = [r for r in SOURCES if r[1] == ""]
    assert got["Google"] == [sum(r[2] for r in google), sum(r[3] for r in google)]
    # Trail's two visits came without a referrer: Direct / None, like the imported ""
    assert got["Direct / None"] == [
        sum(r[2] for r in direct) + NATIVE_VISITORS,
        sum(r[3] for r in direct) + NATIVE_VISITORS,
    ]
    pages = ask(
        client, key, site, metrics=["visitors", "pageviews"], dimensions=["event:page"],
        include={"imports": True},
    )  # fmt: skip
    got = {r["dimensions"][0]: r["metrics"] for r in pages["results"]}
    for page in {p for _, p, _, _ in PAGES}:
        rows = [r for r in PAGES if r[1] == page]
        native_views = 1 if page in ("/", "/blog") else 0
        assert got[page] == [
            sum(r[2] for r in rows) + native_views,
            sum(r[3] for r in rows) + native_views,
        ]
    countries = ask(
        client, key, site, metrics=["visitors", "percentage"], dimensions=["visit:country"],
        include={"imports": True},
    )  # fmt: skip
    got = {r["dimensions"][0]: r["metrics"] for r in countries["results"]}
    total = sum(r[2] for r in LOCATIONS) + NATIVE_VISITORS
    fr = sum(r[2] for r in LOCATIONS if r[1] == "FR")
    assert got["FR"][0] >= fr  # Trail's own visitors may be located anywhere (test GeoIP)
    assert sum(m[0] for m in got.values()) == total
    assert abs(sum(m[1] for m in got.values()) - 100) < 1
    assert countries["meta"]["imports_included"] is True


def test_a_filter_on_the_same_table_uses_imports(
    client: Any, key: str, sites: dict[str, Site]
) -> None:
    answer = ask(
        client, key, sites["main"], metrics=["visitors"],
        filters=[["is", "visit:source", ["Google"]]], include={"imports": True},
    )  # fmt: skip
    assert answer["meta"]["imports_included"] is True
    assert answer["results"][0]["metrics"] == [sum(r[2] for r in SOURCES if r[1] == "Google")]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {"dimensions": ["visit:country"], "filters": [["is", "visit:source", ["Google"]]]},
            "unsupported_query",
        ),
        ({"filters": [["is", "event:props:plan", ["pro"]]]}, "unsupported_query"),
        ({"metrics": ["visitors", "time_on_page"]}, "unsupported_query"),
        ({"dimensions": ["visit:city"]}, "unsupported_query"),
        ({"date_range": [N.isoformat(), N.isoformat()]}, "out_of_range"),
    ],
)
def test_imports_left_out_say_why(
    client: Any, key: str, sites: dict[str, Site], body: dict[str, Any], reason: str
) -> None:
    body = {"metrics": ["visitors"], **body}
    on = ask(client, key, sites["main"], **body, include={"imports": True})
    off = ask(client, key, sites["main"], **body)
    assert on["meta"]["imports_included"] is False
    assert on["meta"]["imports_skip_reason"] == reason
    assert on["results"] == off["results"]  # exactly the native answer


def test_a_site_without_imports_says_so(client: Any, sites: dict[str, Site], db: None) -> None:
    _, raw = factories.api_key(sites["empty"].organization, scopes=("stats:read",))
    answer = ask(client, raw, sites["empty"], metrics=["visitors"], include={"imports": True})
    assert answer["meta"]["imports_skip_reason"] == "no_imported_data"


def test_comparisons_add_imports_to_both_periods(
    client: Any, key: str, sites: dict[str, Site]
) -> None:
    answer = ask(
        client, key, sites["main"], metrics=["visitors"], date_range=[I2.isoformat(), I2.isoformat()],
        include={"imports": True, "comparisons": {"mode": "previous_period"}},
    )  # fmt: skip
    [row] = answer["results"]
    assert row["metrics"] == [VISITORS[1][1]]
    assert row["comparison"]["metrics"] == [VISITORS[0][1]]


# --- bad files -------------------------------------------------------------------------


@pytest.fixture
def fresh(db: None, clickhouse: Any, make_site: Any) -> Site:
    site: Site = make_site("plausible-bad-files.test")
    return site


def attempt(site: Site, path: Path, import_id: int = 77) -> BadImportFile:
    with pytest.raises(BadImportFile) as refused:
        plausible.run(site=site, import_id=import_id, path=path, progress=lambda *a, **k: None)
    assert imported_rows(site.id, import_id) == 0  # nothing kept
    return refused.value


def good_files() -> dict[str, str | bytes]:
    return dict(export_files())


def test_a_zip_bomb_is_refused(fresh: Site, tmp_path: Path) -> None:
    files = good_files()
    files["imported_devices.csv"] = "date,device\n" + "0" * 5_000_000
    refused = attempt(fresh, write_zip(tmp_path / "bomb.zip", files))
    assert "zip bomb" in refused.message


def test_an_uncompressed_size_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "big.zip", good_files())
    with zipfile.ZipFile(path) as archive, pytest.raises(BadImportFile) as refused:
        plausible.checked_members(archive, "big.zip", limit=100)
    assert "over the limit" in refused.value.message


@pytest.mark.parametrize(
    "name", ["../imported_visitors.csv", "a/../../imported_pages.csv", "/etc/imported_x.csv"]
)
def test_member_names_that_leave_the_archive_are_refused(
    fresh: Site, tmp_path: Path, name: str
) -> None:
    files = good_files()
    files[name] = "date,visitors\n"
    refused = attempt(fresh, write_zip(tmp_path / "names.zip", files))
    assert "leaves the archive" in refused.message


def test_an_unknown_file_is_refused(fresh: Site, tmp_path: Path) -> None:
    files = good_files()
    files["notes.txt"] = "hello"
    refused = attempt(fresh, write_zip(tmp_path / "unknown.zip", files))
    assert refused.file == "notes.txt"


def test_not_a_zip_is_refused(fresh: Site, tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    path.write_text("date,visitors\n")
    assert "not a zip" in attempt(fresh, path).message


def test_a_wrong_header_names_the_column(fresh: Site, tmp_path: Path) -> None:
    files = good_files()
    files["imported_devices.csv"] = "date,device,visitors,colour\n2024-01-01,Desktop,1,red\n"
    refused = attempt(fresh, write_zip(tmp_path / "header.zip", files))
    assert (refused.file, refused.line, refused.column) == ("imported_devices.csv", 1, "colour")
    files["imported_devices.csv"] = "date,visitors\n2024-01-01,1\n"
    refused = attempt(fresh, write_zip(tmp_path / "missing.zip", files))
    assert refused.column == "device"


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ("2024-13-01,1,1,0,1,0", "date"),
        ("2024-01-01,-3,1,0,1,0", "visitors"),
        ("2024-01-01,1,many,0,1,0", "pageviews"),
        ("2024-01-01,1,1,0,1,1e400", "visit_duration"),
    ],
)
def test_a_bad_cell_names_file_line_and_column(
    fresh: Site, tmp_path: Path, row: str, column: str
) -> None:
    files = good_files()
    header = "date,visitors,pageviews,bounces,visits,visit_duration"
    files["imported_visitors.csv"] = f"{header}\n2024-01-01,1,1,0,1,0\n{row}\n"
    refused = attempt(fresh, write_zip(tmp_path / "cell.zip", files))
    assert (refused.file, refused.line, refused.column) == ("imported_visitors.csv", 3, column)


def test_a_running_import_is_invisible_to_reports(fresh: Site, tmp_path: Path) -> None:
    seen: list[Any] = []
    body = {
        "site_id": fresh.domain,
        "metrics": ["visitors"],
        "date_range": RANGE,
        "include": {"imports": True},
    }

    def progress(fraction: float, **_: Any) -> None:  # after each file: some rows are in
        seen.append((imported_rows(fresh.id, 601), answer(site=fresh, body=body)["meta"]))

    plausible.run(site=fresh, import_id=601, path=write_zip(tmp_path / "e.zip", good_files()),
                  progress=progress)  # fmt: skip
    assert seen and all(rows > 0 for rows, _ in seen)
    assert all(meta["imports_skip_reason"] == "no_imported_data" for _, meta in seen)
    assert answer(site=fresh, body=body)["meta"]["imports_included"] is True
    plausible.delete(fresh.id, 601)
    assert imported_rows(fresh.id, 601) == 0


def test_deleting_an_import_removes_exactly_its_rows(fresh: Site, tmp_path: Path) -> None:
    path = write_zip(tmp_path / "export.zip", good_files())
    first = plausible.run(site=fresh, import_id=501, path=path, progress=lambda *a, **k: None)
    plausible.run(site=fresh, import_id=502, path=path, progress=lambda *a, **k: None)
    assert imported_rows(fresh.id, 501) == first["rows"] == imported_rows(fresh.id, 502)
    plausible.delete(fresh.id, 501)
    assert imported_rows(fresh.id, 501) == 0
    assert imported_rows(fresh.id, 502) == first["rows"]
    plausible.delete(fresh.id, 502)
