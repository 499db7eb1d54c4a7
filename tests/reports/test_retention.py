"""The `meta` warning for reports over days a site's retention has dropped
(reports/retention.py, docs/retention.md)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from reports.retention import retention_start, retention_warning
from sites.models import Site

# 10 March 2026, 15:00 UTC: a 30-day retention cuts at 8 February 00:00 UTC.
NOW = dt.datetime(2026, 3, 10, 15, tzinfo=dt.UTC)


def _site(**fields: Any) -> Site:
    return Site(domain="example.com", timezone=fields.pop("timezone", "UTC"), **fields)


def _max_days(days: int | None) -> Any:
    return override_settings(TRAIL=dataclasses.replace(settings.TRAIL, retention_max_days=days))


def test_forever_has_no_start_and_no_warning() -> None:
    site = _site()
    assert retention_start(site, now=NOW) is None
    assert retention_warning(site, dt.date(2000, 1, 1), from_rollup=False, now=NOW) is None


def test_raw_report_before_the_start_is_warned() -> None:
    site = _site(retention_days=30)
    assert retention_start(site, now=NOW) == dt.date(2026, 2, 8)
    warning = retention_warning(site, dt.date(2025, 3, 10), from_rollup=False, now=NOW)
    assert warning is not None
    assert "keeps 30 days of raw events" in warning and "before 2026-02-08" in warning
    # The first whole day, and any later one, is not warned about.
    assert retention_warning(site, dt.date(2026, 2, 8), from_rollup=False, now=NOW) is None
    assert retention_warning(site, dt.date(2026, 3, 1), from_rollup=False, now=NOW) is None


def test_rollup_answers_need_no_warning() -> None:
    site = _site(retention_days=30)
    assert retention_warning(site, dt.date(2024, 1, 1), from_rollup=True, now=NOW) is None


def test_a_local_day_cut_by_the_utc_cutoff_is_not_whole() -> None:
    # UTC midnight of 8 Feb is 9:00 in Tokyo: 8 Feb there lost its first hours.
    assert retention_start(_site(retention_days=30, timezone="Asia/Tokyo"), now=NOW) == (
        dt.date(2026, 2, 9)
    )
    # In New York it is 19:00 on 7 Feb: 8 Feb is whole.
    assert retention_start(_site(retention_days=30, timezone="America/New_York"), now=NOW) == (
        dt.date(2026, 2, 8)
    )


def test_days_dropped_before_a_retention_was_lengthened_stay_warned() -> None:
    applied = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    site = _site(retention_days=None, retention_cutoff=applied)
    warning = retention_warning(site, dt.date(2026, 2, 1), from_rollup=False, now=NOW)
    assert warning is not None and "dropped older raw events" in warning
    assert "before 2026-03-01" in warning


def test_the_instance_maximum_applies_to_forever() -> None:
    with _max_days(10):
        site = _site()
        assert retention_start(site, now=NOW) == dt.date(2026, 2, 28)
        warning = retention_warning(site, dt.date(2026, 2, 1), from_rollup=False, now=NOW)
        assert warning is not None and "keeps 10 days" in warning


@pytest.mark.django_db
@pytest.mark.usefixtures("rollups_on")
def test_the_stats_api_warns_a_raw_report_over_dropped_days_and_not_a_rollup_one(
    make_site: Any, seed: Any
) -> None:
    """Wired into `meta` (reports/stats.py): a report the rollups cannot answer (a filter on
    a custom property) over a range that starts before the retention start carries the
    warning; the same range of top stats, answered from the rollups, does not."""
    from reports.stats import answer
    from tests.reports.conftest import hit

    site = make_site("retention-meta.example.com")
    Site.objects.filter(pk=site.pk).update(retention_days=30)
    site.refresh_from_db()
    recent = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=2)
    seed(site, [hit(site, recent, "/", name="Signup", props={"plan": "pro"})])
    year = {"site_id": site.domain, "date_range": "12mo"}
    raw = answer(
        site=site,
        body={**year, "metrics": ["visitors"], "filters": [["is", "event:props:plan", ["pro"]]]},
    )
    assert raw["meta"]["source"] == "events"
    assert "keeps 30 days of raw events" in raw["meta"]["warning"]
    assert raw["results"][0]["metrics"] == [1]
    rollup = answer(site=site, body={**year, "metrics": ["visitors", "pageviews"]})
    assert rollup["meta"]["source"] == "rollup"
    assert "warning" not in rollup["meta"]
    recent_only = answer(
        site=site,
        body={
            **year,
            "date_range": "7d",
            "metrics": ["visitors"],
            "filters": [["is", "event:props:plan", ["pro"]]],
        },
    )
    assert "warning" not in recent_only["meta"]
