"""Umami's read endpoints as Stats API bodies, and Trail's answers in Umami's shapes.

Every figure comes from Trail's report engine: `reports.stats.answer` (or, for the
summary, the same `parse` and `execute` it calls, to keep bounces and total time unrounded),
`reports.realtime`'s window for the visitors now, and the SQL builder (the site guard)
for the page of recent events. The mapping is in docs/umami-api.md.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from accounts.errors import ServiceError
from reports import dates, realtime
from reports.context import load_context
from reports.parse import parse
from reports.runner import Report, execute
from reports.sql.builder import Select, run
from reports.sql.catalog import DIRECT, EVENTS, NOT_SET, Binder, date_condition
from reports.stats import answer
from reports.umami import params as p
from sites.models import Site

# Umami's `type` of /metrics → (Trail's dimension, the metric that is its `y`).
METRICS = {
    "path": ("event:page", "pageviews"),
    "url": ("event:page", "pageviews"),  # Umami's name before 2025
    "entry": ("visit:entry_page", "visits"),
    "exit": ("visit:exit_page", "visits"),
    "referrer": ("visit:referrer", "visitors"),
    "channel": ("visit:channel", "visitors"),
    "hostname": ("event:hostname", "pageviews"),
    "host": ("event:hostname", "pageviews"),
    "event": ("event:name", "events"),
    "browser": ("visit:browser", "visitors"),
    "os": ("visit:os", "visitors"),
    "device": ("visit:device", "visitors"),
    "screen": ("visit:screen", "visitors"),
    "country": ("visit:country", "visitors"),
    "region": ("visit:region", "visitors"),
    "city": ("visit:city", "visitors"),
    "utm_source": ("visit:utm_source", "visitors"),
    "utm_medium": ("visit:utm_medium", "visitors"),
    "utm_campaign": ("visit:utm_campaign", "visitors"),
    "utm_content": ("visit:utm_content", "visitors"),
    "utm_term": ("visit:utm_term", "visitors"),
}
UNITS = {"hour": "time:hour", "day": "time:day", "month": "time:month"}
PLACEHOLDERS = frozenset({NOT_SET, DIRECT, "(none)"})
# Trail's fields in a ServiceError → Umami's parameter names.
FIELDS = {"date_range": "startAt", "dimensions": "unit", "filters": "filters"}
STATS = ("pageviews", "visitors", "visits", "bounces", "totaltime")
MAX_LIMIT = 10_000


def _umami_field(exc: ServiceError) -> ServiceError:
    field = exc.field or ""
    head = field.split("[", 1)[0].split(".", 1)[0]
    if head in FIELDS:
        return ServiceError(exc.message, field=FIELDS[head])
    return exc


def _body(site: Site, span: p.Span, **more: Any) -> dict[str, Any]:
    return {
        "site_id": site.domain,
        "date_range": span.date_range(),
        "timezone": span.timezone,
        **more,
    }


def _answer(site: Site, body: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return answer(site=site, body=body)
    except ServiceError as exc:
        raise _umami_field(exc) from None


def _execute(site: Site, body: Mapping[str, Any]) -> Report:
    """The runner's report of `body`: its unrounded values (bounces and total time are
    counts again only when multiplied back from the exact rate and mean)."""
    try:
        parsed = parse(site=site, body=body, context=load_context(site, body))
    except ServiceError as exc:
        raise _umami_field(exc) from None
    return execute(parsed.query)


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0


def _summary(values: Mapping[str, float]) -> dict[str, int]:
    visits = _finite(values.get("visits", 0.0))
    return {
        "pageviews": int(round(_finite(values.get("pageviews", 0.0)))),
        "visitors": int(round(_finite(values.get("visitors", 0.0)))),
        "visits": int(round(visits)),
        "bounces": int(round(visits * _finite(values.get("bounce_rate", 0.0)) / 100)),
        "totaltime": int(round(visits * _finite(values.get("visit_duration", 0.0)))),
    }


def stats_body(site: Site, query: Mapping[str, Any]) -> dict[str, Any]:
    """The Stats API body of a `/stats` call."""
    span = p.span(query, site_timezone=site.timezone)
    mode = {"prev": "previous_period", "yoy": "year_over_year"}.get(p.text(query, "compare"))
    if p.text(query, "compare") and mode is None:
        raise ServiceError("expected prev or yoy", field="compare")
    return _body(
        site,
        span,
        metrics=["pageviews", "visitors", "visits", "bounce_rate", "visit_duration"],
        filters=p.filters(query),
        include={"comparisons": {"mode": mode or "previous_period"}},
    )


def stats(site: Site, query: Mapping[str, Any]) -> dict[str, Any]:
    """Pageviews, visitors, visits, bounces and total seconds of the range, and the same
    of the period of as many days before it (`comparison`)."""
    report = _execute(site, stats_body(site, query))
    row = report.rows[0].metrics if report.rows else {}
    before = report.comparison[0] if report.comparison and report.comparison[0] else None
    return {**_summary(row), "comparison": _summary(before.metrics if before else {})}


def _x(bucket: str, unit: str = "day") -> str:
    """A bucket's start as Umami writes it: local `YYYY-MM-DD HH:MM:SS`, a month's first day
    even when the range starts mid-month (Trail labels that bucket with the range's first
    day; Umami truncates to the month)."""
    if unit == "month":
        bucket = f"{bucket[:7]}-01"
    return bucket if len(bucket) > 10 else f"{bucket} 00:00:00"


# Umami's units, finest first. A unit finer than the range allows becomes the finest one it
# allows (Umami's rule, docs.umami.is "Unit Parameter": minute up to 60 minutes, hour up to
# 30 days, day up to 6 months); Trail's finest bucket is the hour, so `minute` is hours.
UNIT_ORDER = ("minute", "hour", "day", "month", "year")


def _finest_unit(span: p.Span) -> str:
    length = span.end - span.start
    if length <= dt.timedelta(minutes=60):
        return "minute"
    if length <= dt.timedelta(days=30):
        return "hour"
    zone = dates.zone(span.timezone)
    start, end = span.start.astimezone(zone), span.end.astimezone(zone)
    if (end.year * 12 + end.month) - (start.year * 12 + start.month) <= 6:
        return "day"
    return "month"


def unit_of(span: p.Span, query: Mapping[str, Any]) -> str:
    """The unit a `/pageviews` call is answered in: `hour`, `day`, `month` or `year`."""
    asked = p.text(query, "unit", "day") or "day"
    if asked not in UNIT_ORDER:
        raise ServiceError(f"expected one of {', '.join(UNIT_ORDER)}", field="unit")
    finest = _finest_unit(span)
    unit = asked if UNIT_ORDER.index(asked) >= UNIT_ORDER.index(finest) else finest
    return "hour" if unit == "minute" else unit


def pageviews_body(site: Site, query: Mapping[str, Any]) -> dict[str, Any]:
    """The Stats API body of a `/pageviews` call (by `year`: of the whole range, split into
    years by `pageviews`)."""
    span = p.span(query, site_timezone=site.timezone)
    unit = unit_of(span, query)
    body = _body(site, span, metrics=["pageviews", "visitors"], filters=p.filters(query))
    if unit != "year":
        body["dimensions"] = [UNITS[unit]]
    return body


def _years(span: p.Span) -> list[tuple[dt.date, dt.date]]:
    return [
        (max(span.first, dt.date(year, 1, 1)), min(span.last, dt.date(year, 12, 31)))
        for year in range(span.first.year, span.last.year + 1)
    ]


def pageviews(site: Site, query: Mapping[str, Any]) -> dict[str, Any]:
    """Pageviews and visitors (Umami's sessions) by hour, day, month or year, buckets with
    data. A year's visitors are counted over the year (not the sum of its months)."""
    body = pageviews_body(site, query)
    if "dimensions" in body:
        unit = body["dimensions"][0].partition(":")[2]
        found = _answer(site, body)["results"]
        rows = [(_x(r["dimensions"][0], unit), r["metrics"]) for r in found]
    else:
        span = p.span(query, site_timezone=site.timezone)
        rows = []
        for first, last in _years(span):
            found = _answer(site, {**body, "date_range": [first.isoformat(), last.isoformat()]})
            values = found["results"][0]["metrics"] if found["results"] else [0, 0]
            if any(values):
                rows.append((f"{first.year}-01-01 00:00:00", values))
    return {
        "pageviews": [{"x": x, "y": values[0]} for x, values in rows],
        "sessions": [{"x": x, "y": values[1]} for x, values in rows],
    }


def _label(value: Any) -> Any:
    return None if value in PLACEHOLDERS else value


def _host(referrer: Any) -> Any:
    if referrer is None:
        return None
    host = urlsplit(referrer if "//" in referrer else f"//{referrer}").hostname
    return host or referrer


def metrics_body(site: Site, query: Mapping[str, Any]) -> dict[str, Any]:
    """The Stats API body of a `/metrics` call."""
    span = p.span(query, site_timezone=site.timezone)
    kind = p.text(query, "type")
    if not kind:
        raise ServiceError("required", field="type")
    if kind not in METRICS:
        raise ServiceError(f"not a type Trail can break down: {kind[:100]!r}", field="type")
    limit = p.integer(query, "limit", default=500, low=1, high=MAX_LIMIT)
    offset = p.integer(query, "offset", default=0, low=0, high=1_000_000)
    dimension, metric = METRICS[kind]
    filters = p.filters(query)
    if kind == "event":  # Umami lists custom events only
        filters.append(["is_not", "event:name", ["pageview"]])
    search = p.text(query, "search").strip()
    if search:  # Umami: the values containing it, whatever their case
        filters.append(["contains", dimension, [search], {"case_sensitive": False}])
    return _body(
        site,
        span,
        metrics=[metric],
        dimensions=[dimension],
        filters=filters,
        order_by=[[metric, "desc"]],
        pagination={"limit": limit, "offset": offset},
    )


def metrics(site: Site, query: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The top values of a dimension, `[{"x": value, "y": count}]`, largest first."""
    kind = p.text(query, "type")
    body = metrics_body(site, query)
    rows = [(_label(r["dimensions"][0]), r["metrics"][0]) for r in _answer(site, body)["results"]]
    if kind == "device":
        rows = [(x.lower() if isinstance(x, str) else x, y) for x, y in rows]
    if kind == "referrer":  # Umami's referrers are hosts: the URLs of one host add up
        merged: dict[Any, int] = {}
        for x, y in rows:
            merged[_host(x)] = merged.get(_host(x), 0) + y
        rows = sorted(merged.items(), key=lambda item: -item[1])
    return [{"x": x, "y": y} for x, y in rows]


def active(site: Site, now: dt.datetime | None = None) -> dict[str, int]:
    """Visitors with an event in the last 5 minutes (`visitors`; `x`: Umami's older name)."""
    moment = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    window = realtime.Window(moment)
    found = run(realtime.current_visitors_select(site=site, window=window))
    visitors = int(found[0]["visitors"]) if found else 0
    return {"visitors": visitors, "x": visitors}


def _events_select(site: Site, span: p.Span, *, columns: tuple[str, ...], **more: Any) -> Select:
    binder = Binder()
    return Select(
        site_id=site.pk,
        table=EVENTS,
        columns=columns,
        where=(date_condition(EVENTS, binder, span.start, span.end), "name != 'engagement'"),
        params=binder.params,
        **more,
    )


def events(site: Site, query: Mapping[str, Any]) -> dict[str, Any]:
    """The range's events, newest first, a page at a time (Umami's website events)."""
    span = p.span(query, site_timezone=site.timezone)
    number, size = p.page(query)
    columns = (
        "toString(event_id) AS id",
        "toString(session_id) AS session",
        "toString(timestamp, 'UTC') AS at",
        "pathname",
        "referrer",
        "hostname",
        "name",
    )
    rows = run(
        _events_select(
            site,
            span,
            columns=columns,
            order_by=("timestamp DESC", "id"),
            limit=size,
            offset=(number - 1) * size,
        )
    )
    count = run(_events_select(site, span, columns=("count() AS n",)))
    website = str(site.public_id)
    data = []
    for row in rows:
        referrer = urlsplit(row["referrer"] or "")
        pageview = row["name"] == "pageview"
        data.append(
            {
                "id": row["id"],
                "websiteId": website,
                "sessionId": row["session"],
                "createdAt": row["at"].replace(" ", "T")[:23] + "Z",
                "hostname": row["hostname"],
                "urlPath": row["pathname"],
                "urlQuery": "",
                "referrerPath": referrer.path,
                "referrerQuery": "",
                "referrerDomain": referrer.hostname or "",
                "pageTitle": "",
                "eventType": 1 if pageview else 2,
                "eventName": "" if pageview else row["name"],
            }
        )
    total = int(count[0]["n"]) if count else 0
    return {"data": data, "count": total, "page": number, "pageSize": size}


def _utc_text(value: str) -> str:
    """ClickHouse's `YYYY-MM-DD HH:MM:SS[.mmm]` (UTC) as ISO 8601 with a `Z`."""
    return value.replace(" ", "T")[:23] + "Z"


def daterange(site: Site) -> dict[str, str | None]:
    """The instants of the site's first and last event (ISO 8601, UTC), `null` for a site
    without events. Umami's query names them `mindate` and `maxdate`; its generated client
    (OpenAPI contract) reads `startDate` and `endDate`: both pairs are given."""
    found = run(
        Select(
            site_id=site.pk,
            table=EVENTS,
            columns=(
                "count() AS n",
                "toString(min(timestamp), 'UTC') AS first",
                "toString(max(timestamp), 'UTC') AS last",
            ),
            where=("name != 'engagement'",),
        )
    )
    row = found[0] if found and int(found[0]["n"]) else None
    first = _utc_text(row["first"]) if row else None
    last = _utc_text(row["last"]) if row else None
    return {"mindate": first, "maxdate": last, "startDate": first, "endDate": last}


# Umami's expanded rows: Trail's metrics asked, and the counts each row answers.
EXPANDED = ("pageviews", "visitors", "visits", "bounce_rate", "visit_duration")
EXPANDED_FIELDS = ("name", "pageviews", "visitors", "visits", "bounces", "totaltime")
CUSTOM = ["pageview", "engagement"]  # the event names that are not custom events


EVENT_SCOPED_LIMIT = 100  # /metrics/expanded rows of an event dimension: one query a row


def metrics_expanded_body(site: Site, query: Mapping[str, Any]) -> dict[str, Any]:
    """The Stats API body of a `/metrics/expanded` call: `/metrics`' body (type, range,
    filters, search, page) with every count of a row, most visitors first. An event dimension (page,
    hostname, event name) has no visit metrics in the engine: its rows get pageviews,
    visitors and visits here, bounces and total time from one filtered summary each."""
    kind = p.text(query, "type")
    p.text(query, "compare")  # accepted as Umami's client sends it; rows have no comparison
    if kind in METRICS and METRICS[kind][0].startswith("event:"):
        limit = p.integer(
            query, "limit", default=EVENT_SCOPED_LIMIT, low=1, high=EVENT_SCOPED_LIMIT
        )
        body = metrics_body(site, {**{k: query.get(k) for k in query}, "limit": str(limit)})
        chosen = ["pageviews", "visitors", "visits", "events"]
        if kind == "event":  # custom events only: engagement rows left out as well
            body["filters"] = [*body["filters"], ["is_not", "event:name", CUSTOM]]
    else:
        body = metrics_body(site, query)
        chosen = list(EXPANDED)
    order = [["visitors", "desc"], ["visits", "desc"]]  # Umami's order of expanded rows
    return {**body, "metrics": chosen, "order_by": order}


def _counts(values: Mapping[str, float], *, events: bool) -> dict[str, int]:
    counts = _summary(values)
    if events:  # a custom event's row counts its events (Umami counts the rows of the type)
        counts["pageviews"] = int(round(_finite(values.get("events", 0.0))))
    return counts


def _visit_counts(
    site: Site, body: Mapping[str, Any], dimension: str, value: Any
) -> dict[str, Any]:
    """The visits, bounce rate and mean duration of the visits with `dimension` = `value`."""
    one = {key: body[key] for key in ("site_id", "date_range", "timezone") if key in body}
    filters = [f for f in body.get("filters", []) if f[0] != "contains" or f[1] != dimension]
    report = _execute(
        site,
        {
            **one,
            "metrics": ["visits", "bounce_rate", "visit_duration"],
            "filters": [*filters, ["is", dimension, [value]]],
        },
    )
    return dict(report.rows[0].metrics) if report.rows else {}


def metrics_expanded(site: Site, query: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The top values of a dimension with their pageviews, visitors, visits, bounces and
    total seconds (`[{"name", "pageviews", …}]`), most visitors (then visits) first."""
    kind = p.text(query, "type")
    body = metrics_expanded_body(site, query)
    dimension = body["dimensions"][0]
    report = _execute(site, body)
    rows: list[tuple[Any, dict[str, int]]] = []
    for row in report.rows:
        values = dict(row.metrics)
        if dimension.startswith("event:"):
            visited = _visit_counts(site, body, dimension, row.dimensions[0])
            values.update(bounce_rate=visited.get("bounce_rate", 0.0))
            values.update(visit_duration=visited.get("visit_duration", 0.0))
            # bounces and time are of the visits the filtered summary counts
            values.update(visits=visited.get("visits", values.get("visits", 0.0)))
        counts = _counts(values, events=kind == "event")
        name = _label(row.dimensions[0])
        if kind == "device" and isinstance(name, str):
            name = name.lower()
        rows.append((name, counts))
    if kind == "referrer":  # one row a host, as /metrics: the counts of its URLs add up
        merged: dict[Any, dict[str, int]] = {}
        for name, counts in rows:
            into = merged.setdefault(_host(name), dict.fromkeys(counts, 0))
            for field, value in counts.items():
                into[field] += value
        rows = sorted(merged.items(), key=lambda item: -item[1]["visitors"])
    return [{"name": name, **counts} for name, counts in rows]


def events_series(site: Site, query: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Custom events by name and bucket, `[{"x": name, "t": bucket, "y": count}]`, oldest
    bucket first; `unit`, `timezone` and the bucket labels as `/pageviews`'."""
    span = p.span(query, site_timezone=site.timezone)
    unit = unit_of(span, query)
    filters = [*p.filters(query), ["is_not", "event:name", CUSTOM]]
    body = _body(site, span, metrics=["events"], filters=filters)
    found: list[tuple[str, Any, int]] = []
    if unit != "year":
        body["dimensions"] = [UNITS[unit], "event:name"]
        body["pagination"] = {"limit": MAX_LIMIT, "offset": 0}
        for r in _answer(site, body)["results"]:
            found.append((_x(r["dimensions"][0], unit), r["dimensions"][1], r["metrics"][0]))
    else:
        body["dimensions"] = ["event:name"]
        body["pagination"] = {"limit": MAX_LIMIT, "offset": 0}
        for first, last in _years(span):
            days = [first.isoformat(), last.isoformat()]
            for r in _answer(site, {**body, "date_range": days})["results"]:
                found.append((f"{first.year}-01-01 00:00:00", r["dimensions"][0], r["metrics"][0]))
    found = [row for row in found if row[2]]
    found.sort(key=lambda row: (row[0], -row[2], row[1]))
    return [{"x": name, "t": bucket, "y": count} for bucket, name, count in found]


def session_stats(site: Site, query: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Umami's session summary, each count as `{"value": n}`: pageviews, visitors, visits,
    the known countries they came from, and custom events."""
    span = p.span(query, site_timezone=site.timezone)
    filters = p.filters(query)
    totals = _answer(
        site, _body(site, span, metrics=["pageviews", "visitors", "visits"], filters=filters)
    )["results"]
    values = totals[0]["metrics"] if totals else [0, 0, 0]
    countries = _answer(
        site,
        _body(
            site,
            span,
            metrics=["visitors"],
            dimensions=["visit:country"],
            filters=filters,
            pagination={"limit": 1_000, "offset": 0},
        ),
    )["results"]
    custom = _answer(
        site,
        _body(site, span, metrics=["events"], filters=[*filters, ["is_not", "event:name", CUSTOM]]),
    )["results"]
    counts = {
        "pageviews": values[0],
        "visitors": values[1],
        "visits": values[2],
        "countries": sum(1 for r in countries if r["metrics"][0] and _label(r["dimensions"][0])),
        "events": custom[0]["metrics"][0] if custom else 0,
    }
    return {name: {"value": int(value or 0)} for name, value in counts.items()}


def website(site: Site) -> dict[str, Any]:
    """A site as Umami describes a website; its id is the one Umami's tracker sends."""
    created = site.created_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return {
        "id": str(site.public_id),
        "name": site.domain,
        "domain": site.domain,
        "shareId": None,
        "resetAt": None,
        "userId": None,
        "teamId": None,
        "createdBy": None,
        "createdAt": created,
        "updatedAt": created,
        "deletedAt": None,
    }
