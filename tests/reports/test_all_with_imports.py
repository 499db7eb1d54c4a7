"""A `date_range` of "all" reaches imported days (reports/context.py): it starts at the
earlier of the site's first own event and its first imported day (Plausible's daily
aggregates), through the Stats API on the real embedded ClickHouse; the kept first day
(`Site.stats_start_date`) is forgotten by `forget_first_day` when an import comes or goes.

The imported days are 400 and 399 days ago: older than anything the batch API accepts, so
the first day is final and kept on the site's row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reports.context import first_day_of_data, forget_first_day, load_context
from reports.imports import services
from reports.imports.present import KIND, has_imported_aggregates
from sites.models import Site
from tests import factories
from tests.api_client import bearer
from tests.reports.conftest import CHROME_ANDROID, FIREFOX, hit, post_json
from tests.reports.test_imports_plausible import csv_text, write_zip
from tests.reports.test_imports_plausible_job import start

pytestmark = pytest.mark.django_db

TODAY = dt.datetime.now(dt.UTC).date()
OLD1, OLD2 = TODAY - dt.timedelta(days=400), TODAY - dt.timedelta(days=399)
N = TODAY - dt.timedelta(days=3)  # the site's own traffic, when it has some
# (date, visitors, pageviews, bounces, visits, visit_duration)
IMPORTED = [(OLD1, 10, 30, 4, 12, 600), (OLD2, 20, 50, 10, 25, 1000)]
IMPORTED_VISITORS = sum(row[1] for row in IMPORTED)
Seed = Callable[[Site, list[dict[str, Any]]], None]


def import_days(site: Site, tmp_path: Path) -> str:
    """Import the days through the import job (run to done); its id."""
    files = {
        "imported_visitors.csv": csv_text(
            ["date", "visitors", "pageviews", "bounces", "visits", "visit_duration"],
            [list(row) for row in IMPORTED],
        )
    }
    return start(site, write_zip(tmp_path / "export.zip", files))


def query(client: Any, site: Site, **body: Any) -> dict[str, Any]:
    _, key = factories.api_key(site.organization, scopes=("stats:read",))
    answer = post_json(client, "/api/v2/query", {"site_id": site.domain, **body}, key)
    assert answer.status_code == 200, answer.content
    return dict(answer.json())


def days(client: Any, site: Site, *, imports: bool) -> dict[str, int]:
    """Visitors by day over "all", days without any left out."""
    found = query(
        client,
        site,
        metrics=["visitors"],
        date_range="all",
        dimensions=["time:day"],
        include={"imports": imports},
    )
    return {r["dimensions"][0]: r["metrics"][0] for r in found["results"] if r["metrics"][0]}


def test_all_reaches_a_site_with_only_imported_days(
    make_site: Callable[..., Site], clickhouse: Any, client: Any, tmp_path: Path
) -> None:
    site = make_site("all-imported-only.test")
    import_days(site, tmp_path)
    total = query(
        client, site, metrics=["visitors", "pageviews"], date_range="all", include={"imports": True}
    )
    assert total["results"][0]["metrics"] == [IMPORTED_VISITORS, 80]
    assert total["meta"]["imports_included"] is True
    assert days(client, site, imports=True) == {OLD1.isoformat(): 10, OLD2.isoformat(): 20}
    # the range starts at the first imported day itself, not a day before
    site.refresh_from_db()
    assert load_context(site, {"date_range": "all"}).first_day == OLD1
    assert site.stats_start_date == OLD2  # kept (final): the day after, as an event's UTC day
    without = query(client, site, metrics=["visitors"], date_range="all")
    assert without["results"][0]["metrics"] == [0]
    assert without["meta"]["imports_included"] is False


def test_all_starts_at_imported_days_older_than_the_sites_own(
    make_site: Callable[..., Site], seed: Seed, clickhouse: Any, client: Any, tmp_path: Path
) -> None:
    site = make_site("all-imported-older.test")
    at = dt.datetime.combine(N, dt.time(12), tzinfo=dt.UTC)
    seed(
        site,
        [
            hit(site, at, "/", ip="198.51.100.7", user_agent=FIREFOX),
            hit(site, at, "/blog", ip="198.51.100.8", user_agent=CHROME_ANDROID),
        ],
    )
    site.refresh_from_db()
    assert first_day_of_data(site) == N - dt.timedelta(days=1)  # before the import: not kept
    assert site.stats_start_date is None
    import_days(site, tmp_path)
    forget_first_day(site.id)  # what the import job does once an import is done
    site.refresh_from_db()
    total = query(client, site, metrics=["visitors"], date_range="all", include={"imports": True})
    assert total["results"][0]["metrics"] == [IMPORTED_VISITORS + 2]
    assert days(client, site, imports=True) == {
        OLD1.isoformat(): 10,
        OLD2.isoformat(): 20,
        N.isoformat(): 2,
    }
    # without imports, "all" still starts at the imported days: they are the site's history
    assert days(client, site, imports=False) == {N.isoformat(): 2}
    native = query(client, site, metrics=["visitors"], date_range="all")
    assert native["results"][0]["metrics"] == [2]


def test_a_deleted_import_gives_the_first_day_back(
    make_site: Callable[..., Site], seed: Seed, clickhouse: Any, client: Any, tmp_path: Path
) -> None:
    site = make_site("all-imported-deleted.test")
    seed(site, [hit(site, dt.datetime.combine(N, dt.time(12), tzinfo=dt.UTC))])
    job_id = import_days(site, tmp_path)
    assert first_day_of_data(site) == OLD1
    site.refresh_from_db()
    assert site.stats_start_date == OLD2  # kept: older than any event can be
    _, manage = factories.api_key(site.organization, scopes=("sites:manage",))
    assert bearer(manage).delete(f"/api/v1/imports/{job_id}").status_code == 204
    assert not has_imported_aggregates(site=site)
    site.refresh_from_db()
    assert site.stats_start_date is None  # deleting the import forgot the kept day
    assert first_day_of_data(site) == N - dt.timedelta(days=1)
    assert site.stats_start_date is None  # a recent first day is not kept


def test_forgetting_touches_only_that_site(make_site: Callable[..., Site], clickhouse: Any) -> None:
    one, other = make_site("forget-one.test"), make_site("forget-other.test")
    kept = dt.date(2024, 5, 2)
    Site.objects.filter(pk__in=(one.pk, other.pk)).update(stats_start_date=kept)
    forget_first_day(one.id)
    assert Site.objects.get(pk=one.pk).stats_start_date is None
    assert Site.objects.get(pk=other.pk).stats_start_date == kept


def test_the_kind_looked_for_is_the_import_jobs() -> None:
    assert KIND in services.kinds()
