"""The `meta` warning for reports over days a site's retention has dropped
(reports/retention.py, docs/retention.md)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

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
