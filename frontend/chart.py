"""The dashboard's time series: the view's metric over its range by an interval the range
offers (also the site list's sparkline and the zip's time-series.csv), and the chart (the
`chart` fragment) as the canvas draws it (frontend/dashboard/chart.js) and its hidden
table reads it.

- Labels per interval in the site's time zone (the Stats API's buckets are local):
  "1 PM", "Dec 4", "Dec 2026" on the axis, a longer title for the tooltip.
- Buckets that start after now (the rest of today, of this month, …) have no value, so
  the line stops at now instead of dropping to 0.
- With a comparison, its series over the comparison range (`previous_period` or
  `year_over_year`, as `reports.dates` shifts a range) by the same interval, bucket by
  position: the 3rd day of this month beside the 3rd day of the last.
- Each bucket of a day or longer zooms into itself (a custom range of its days, the
  default interval: hours for a day); an hour does not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from frontend import dashboard
from reports import dates
from reports.context import site_range
from reports.panels import series
from sites.models import Site


def intervals_for(span: dates.DateRange) -> tuple[str, ...]:
    """The intervals a chart of `span` offers: hours up to a week, days from two days,
    weeks from two weeks, months beyond a month (each gives a readable number of points)."""
    days = span.days
    offered = {"hour": days <= 7, "day": days >= 2, "week": days >= 14, "month": days > 31}
    return tuple(interval for interval in dashboard.INTERVALS if offered[interval])


def chart_interval(view: dashboard.View, span: dates.DateRange) -> str:
    """The view's interval when its range offers it, else the Stats API's default."""
    return view.interval if view.interval in intervals_for(span) else dates.default_interval(span)


def chart_span(site: Site, view: dashboard.View) -> dates.DateRange:
    """The local days of the view's range ("all" from the site's first data)."""
    return site_range(site, dashboard.date_range(view, site), timezone=site.timezone)


def time_series(
    site: Site, view: dashboard.View, *, span: dates.DateRange | None = None, interval: str = ""
) -> dict[str, Any]:
    """The view's metric for every bucket of its range (or of `span`, a comparison's), by
    `interval` (else `chart_interval`): `labels` (the API's bucket names), `values` (0
    where a bucket has no data) and `interval` (`reports.panels.series`)."""
    span = span or chart_span(site, view)
    interval = interval or chart_interval(view, span)
    base = dashboard.base_query(view, site)
    return series(site, base, metric=view.metric, span=span, interval=interval)


def _start(label: str) -> dt.datetime:
    """A bucket's local start from its label (`2026-12-04` or `2026-12-04 13:00:00`)."""
    return dt.datetime.fromisoformat(label)


def _hour(moment: dt.datetime) -> str:
    return f"{moment.hour % 12 or 12} {'AM' if moment.hour < 12 else 'PM'}"


def _day(moment: dt.datetime) -> str:
    return f"{moment:%b} {moment.day}"


def tick(label: str, interval: str, *, days: int) -> str:
    """A bucket's label on the axis: "1 PM" (with its day when the range has several),
    "Dec 4" (a day, a week's first day), "Dec 2026" (a month)."""
    moment = _start(label)
    if interval == "hour":
        return _hour(moment) if days <= 1 else f"{_day(moment)}, {_hour(moment)}"
    if interval == "month":
        return f"{moment:%b %Y}"
    return _day(moment)


def title(label: str, interval: str) -> str:
    """A bucket's name in the tooltip: "Thu, Dec 4, 1 PM", "Thu, Dec 4, 2026",
    "Week of Dec 4, 2026", "December 2026"."""
    moment = _start(label)
    if interval == "hour":
        return f"{moment:%a}, {_day(moment)}, {_hour(moment)}"
    if interval == "week":
        return f"Week of {_day(moment)}, {moment.year}"
    if interval == "month":
        return f"{moment:%B %Y}"
    return f"{moment:%a}, {_day(moment)}, {moment.year}"


def _month_end(day: dt.date) -> dt.date:
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def zoom_range(label: str, interval: str) -> tuple[dt.date, dt.date] | None:
    """The days a click on a bucket zooms into: the day, the week (to its Sunday), the
    calendar month; None for an hour."""
    first = _start(label).date()
    if interval == "day":
        return first, first
    if interval == "week":
        return first, first + dt.timedelta(days=6 - first.weekday())
    if interval == "month":
        return first.replace(day=1), _month_end(first)
    return None


def _compared(site: Site, view: dashboard.View, span: dates.DateRange, interval: str) -> Any:
    other = span.previous_period() if view.compare == "previous_period" else span.year_over_year()
    return time_series(site, view, span=other, interval=interval)


def chart(
    site: Site, view: dashboard.View, link: Callable[..., str], now: dt.datetime | None = None
) -> dict[str, Any]:
    """The chart's data: `series` (the canvas' JSON), `rows` (its table), `intervals` (what
    the range offers) and `interval` (the one drawn). `link(**changes)` is the URL query
    of the view with `changes` (a shared link's `auth` carried)."""
    span = chart_span(site, view)
    main = time_series(site, view, span=span)
    interval, labels = main["interval"], main["labels"]
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(site.timezone))
    cutoff = moment.replace(tzinfo=None)
    values = [
        None if _start(label) > cutoff else value
        for label, value in zip(labels, main["values"], strict=True)
    ]
    zooms = [zoom_range(label, interval) for label in labels]
    series: dict[str, Any] = {
        "metric": view.metric,
        "name": dashboard.CHART_METRICS[view.metric],
        "labels": [tick(label, interval, days=span.days) for label in labels],
        "titles": [title(label, interval) for label in labels],
        "values": values,
        "zoom": [
            link(period="custom", first=z[0].isoformat(), last=z[1].isoformat(), interval="")
            if z and value is not None
            else None
            for z, value in zip(zooms, values, strict=True)
        ],
        "comparison": None,
    }
    compared: list[Any] = [None] * len(labels)
    if view.compare:
        other = _compared(site, view, span, interval)
        width = len(labels)
        compared = (other["values"] + [None] * width)[:width]
        other_labels = (other["labels"] + [""] * width)[:width]
        series["comparison"] = {
            "name": dashboard.COMPARISONS[view.compare],
            "titles": [title(label, interval) if label else "" for label in other_labels],
            "values": compared,
        }
    rows = list(zip(series["titles"], values, compared, strict=True))
    return {
        "series": series,
        "rows": rows,
        "interval": interval,
        "intervals": intervals_for(span),
    }
