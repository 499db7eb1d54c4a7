"""How big and how fast the planned daily rollup tier would be (docs/rollups.md, "The daily
tier: the plan"), measured on probe tables built from an install's hourly rollups.

    TRAIL_ROLLUPS=on .venv/bin/python bench/report_data.py --var /tmp/roll-10m-year \\
        --events 10000000 --days 365
    .venv/bin/python bench/daily_tier_probe.py --var /tmp/roll-10m-year

Builds, for the benchmark site and its time zone, four plain MergeTree tables from
`rollup_events` and `rollup_sessions` (exact visitor counts by `uniqExactMerge`, the sums as
they are): per UTC day and value, "part" rows (the UTC day cut at the site's local
midnight; visits keyed by the parts they start and end in) and "whole day" rows (visitor
counts of the whole UTC day). Prints their rows and bytes, with LZ4 (MergeTree's default)
and with every column `ZSTD(3)`, as shares of `events`; then visitors over the whole range
summed from whole-day rows and from part rows against the exact count, the same by source,
and a few 12-month reads from the probes, the hourly rollups and raw rows (best of 5). The
probe tables are dropped at the end. Nothing of Trail reads them.
"""

# ruff: noqa: S608 (the SQL is this script's own constants; the zone is the site's)
from __future__ import annotations

import argparse
import time

from _setup import django

VISIT_COLUMNS = (
    "entry_page, referrer_source, referrer, channel, utm_medium, utm_source, utm_campaign,"
    " utm_content, utm_term, country_code, region, city, device, browser, browser_version,"
    " os, os_version, screen_size"
)
PROBES = ("probe_events_parts", "probe_sessions_parts", "probe_events_days", "probe_sessions_days")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--var", required=True)
    parser.add_argument("--site-domain", default="bench.example.com")
    args = parser.parse_args()
    django(args.var, migrate=False)

    from events.clickhouse import get_client
    from sites.models import Site

    site = Site.objects.get(domain=args.site_domain, deleted_at__isnull=True)
    client = get_client()
    zone, site_id = site.timezone.replace("'", ""), int(site.id)

    def one(sql: str) -> object:
        return next(iter(client.query(sql)[0].values()))

    def local_day(column: str) -> str:
        return f"toStartOfDay(toTimeZone({column}, '{zone}'))"

    for table in ("rollup_events", "rollup_sessions"):
        client.command(f"OPTIMIZE TABLE {table} FINAL")
    builds = {
        "probe_events_parts": (
            f"SELECT site_id, dimension, toDate(timestamp) AS day, {local_day('timestamp')} AS part,"
            " name, pathname, toUInt32(uniqExactMerge(visitors)) AS visitors,"
            " toUInt32(sum(pageviews)) AS pageviews, toUInt32(sum(events)) AS events"
            f" FROM rollup_events WHERE site_id = {site_id} GROUP BY site_id, dimension, day, part, name, pathname"
        ),
        "probe_sessions_parts": (
            f"SELECT site_id, dimension, toDate(start) AS day, {local_day('start')} AS start_part,"
            f" {local_day('timestamp')} AS end_part, {VISIT_COLUMNS},"
            " toUInt32(uniqExactMerge(visitors)) AS visitors, toInt32(sum(visits)) AS visits,"
            " toInt32(sum(pageviews)) AS pageviews, toInt32(sum(events)) AS events,"
            " toInt32(sum(bounces)) AS bounces, toInt64(sum(duration)) AS duration"
            f" FROM rollup_sessions WHERE site_id = {site_id}"
            f" GROUP BY site_id, dimension, day, start_part, end_part, {VISIT_COLUMNS}"
        ),
        "probe_events_days": (
            "SELECT site_id, dimension, toDate(timestamp) AS day, name, pathname,"
            " toUInt32(uniqExactMerge(visitors)) AS visitors"
            f" FROM rollup_events WHERE site_id = {site_id} GROUP BY site_id, dimension, day, name, pathname"
        ),
        "probe_sessions_days": (
            f"SELECT site_id, dimension, toDate(start) AS day, {VISIT_COLUMNS},"
            " toUInt32(uniqExactMerge(visitors)) AS visitors"
            f" FROM rollup_sessions WHERE site_id = {site_id} GROUP BY site_id, dimension, day, {VISIT_COLUMNS}"
        ),
    }
    raw = int(
        str(
            one(
                "SELECT total_bytes FROM system.tables WHERE database = currentDatabase() AND name = 'events'"
            )
        )
    )
    try:
        sizes = {"LZ4": 0, "ZSTD(3)": 0}
        for name, select in builds.items():
            for codec, suffix in (("LZ4", ""), ("ZSTD(3)", "_zstd")):
                table = name + suffix
                client.command(f"DROP TABLE IF EXISTS {table}")
                client.command(
                    f"CREATE TABLE {table} ENGINE = MergeTree ORDER BY (site_id, dimension, day) EMPTY AS {select}"
                )
                if suffix:
                    columns = client.query(
                        f"SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = '{table}'"
                    )
                    for column in columns:
                        client.command(
                            f"ALTER TABLE {table} MODIFY COLUMN `{column['name']}` {column['type']} CODEC(ZSTD(3))"
                        )
                client.command(f"INSERT INTO {table} {select}")
                client.command(f"OPTIMIZE TABLE {table} FINAL")
                found = client.query(
                    f"SELECT total_rows AS r, total_bytes AS b FROM system.tables WHERE database = currentDatabase() AND name = '{table}'"
                )[0]
                sizes[codec] += int(found["b"])
                print(f"{table:<28} {int(found['r']):>10,} rows {int(found['b']) / 2**20:8.1f} MiB")
        for codec, size in sizes.items():
            print(
                f"daily tier, {codec}: {size / 2**20:.1f} MiB = {size / raw:.1%} of events ({raw / 2**20:.1f} MiB)"
            )

        exact = int(
            str(
                one(
                    f"SELECT uniqExact(visitor_id) FROM events WHERE site_id = {site_id} AND name != 'engagement'"
                )
            )
        )
        days = int(str(one("SELECT sum(visitors) FROM probe_events_days WHERE dimension = ''")))
        parts = int(str(one("SELECT sum(visitors) FROM probe_events_parts WHERE dimension = ''")))
        print(
            f"visitors over the range: exact {exact:,}; whole UTC days summed {days:,} ({days / exact - 1:+.2%}); parts summed {parts:,} ({parts / exact - 1:+.2%})"
        )
        by_source = client.query(
            f"SELECT referrer_source AS s, uniqExact(visitor_id) AS v FROM sessions WHERE site_id = {site_id} GROUP BY s"
        )
        summed = {
            r["s"]: int(r["v"])
            for r in client.query(
                "SELECT referrer_source AS s, sum(visitors) AS v FROM probe_sessions_days WHERE dimension = 'visit:source' GROUP BY s"
            )
        }
        off = max(abs(summed.get(r["s"], 0) / int(r["v"]) - 1) for r in by_source)
        print(f"visitors by source, whole UTC days summed: largest difference from exact {off:.2%}")

        reads = {
            "sources, daily probe": "SELECT referrer_source, sum(visitors) AS v, sum(visits) FROM probe_sessions_parts WHERE dimension = 'visit:source' GROUP BY referrer_source ORDER BY v DESC LIMIT 10",
            "sources, hourly rollups": f"SELECT referrer_source, uniqExactMerge(visitors) AS v, sum(visits) FROM rollup_sessions WHERE site_id = {site_id} AND dimension = 'visit:source' GROUP BY referrer_source HAVING sum(visits) > 0 ORDER BY v DESC LIMIT 10",
            "sources, raw": f"SELECT referrer_source, uniqExact(visitor_id) AS v, sum(sign) FROM sessions WHERE site_id = {site_id} GROUP BY referrer_source ORDER BY v DESC LIMIT 10",
            "pages, daily probe": "SELECT pathname, sum(visitors) AS v, sum(pageviews) FROM probe_events_parts WHERE dimension = 'event' AND name = 'pageview' GROUP BY pathname ORDER BY v DESC LIMIT 10",
            "pages, raw": f"SELECT pathname, uniqExact(visitor_id) AS v, count() FROM events WHERE site_id = {site_id} AND name = 'pageview' GROUP BY pathname ORDER BY v DESC LIMIT 10",
            "visitors by month, daily probe": "SELECT toStartOfMonth(part) AS m, sum(visitors) FROM probe_events_parts WHERE dimension = '' GROUP BY m ORDER BY m",
        }
        for name, sql in reads.items():
            best = min(_timed(client, sql) for _ in range(5))
            print(f"12 months, {name:<32} {best * 1000:7.1f} ms")
    finally:
        for name in PROBES:
            client.command(f"DROP TABLE IF EXISTS {name}")
            client.command(f"DROP TABLE IF EXISTS {name}_zstd")


def _timed(client: object, sql: str) -> float:
    began = time.perf_counter()
    client.query(sql)  # type: ignore[attr-defined]
    return time.perf_counter() - began


if __name__ == "__main__":
    main()
