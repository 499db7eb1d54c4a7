-- Rollups (docs/rollups.md): per-site aggregates of `events` and `sessions` by UTC hour,
-- written as rows arrive by materialized views (events/clickhouse/rollup_views.sql, made
-- only when TRAIL_ROLLUPS is on: events.rollups.sync_views) and kept forever; the planner answers a
-- report from them when they cover it (reports/sql/rollups.py). Columns carry the raw
-- tables' names so the reports' dimension and filter expressions read them unchanged.
-- A row holds one dimension's value (`dimension`; '' is the whole site), the others ''.
-- Visitors are exact sets (uniqExact states): see docs/rollups.md for why not estimates.
-- Materialized views see inserts only: a DELETE on `events`/`sessions` is followed by
-- `events.rollups.rebuild_days` for the days it touched.
CREATE TABLE IF NOT EXISTS rollup_events {{on_cluster}}
(
    site_id            UInt64,
    dimension          LowCardinality(String),
    timestamp          DateTime('UTC'),
    name               LowCardinality(String),
    pathname           String,
    visitors           AggregateFunction(uniqExact, UInt64),
    pageviews          SimpleAggregateFunction(sum, UInt64),
    events             SimpleAggregateFunction(sum, UInt64)
)
ENGINE = {{replicated}}AggregatingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (site_id, dimension, timestamp, name, pathname);
-- A visit by the hour it started (`start`) and the hour of its last event (`timestamp`),
-- so a time series can count it in every bucket it was active in, as on `sessions`.
-- Visit counts are sums of `sign`: a visit's earlier state cancels where it was counted.
CREATE TABLE IF NOT EXISTS rollup_sessions {{on_cluster}}
(
    site_id            UInt64,
    dimension          LowCardinality(String),
    start              DateTime('UTC'),
    timestamp          DateTime('UTC'),
    entry_page         String,
    referrer_source    LowCardinality(String),
    referrer           String,
    channel            LowCardinality(String),
    utm_medium         LowCardinality(String),
    utm_source         LowCardinality(String),
    utm_campaign       String,
    utm_content        String,
    utm_term           String,
    country_code       LowCardinality(String),
    region             LowCardinality(String),
    city               LowCardinality(String),
    device             LowCardinality(String),
    browser            LowCardinality(String),
    browser_version    LowCardinality(String),
    os                 LowCardinality(String),
    os_version         LowCardinality(String),
    screen_size        LowCardinality(String),
    visitors           AggregateFunction(uniqExact, UInt64),
    visits             SimpleAggregateFunction(sum, Int64),
    pageviews          SimpleAggregateFunction(sum, Int64),
    events             SimpleAggregateFunction(sum, Int64),
    bounces            SimpleAggregateFunction(sum, Int64),
    duration           SimpleAggregateFunction(sum, Int64)
)
ENGINE = {{replicated}}AggregatingMergeTree
PARTITION BY toYYYYMM(start)
ORDER BY (site_id, dimension, start, timestamp, entry_page, referrer_source, referrer, channel, utm_medium, utm_source, utm_campaign, utm_content, utm_term, country_code, region, city, device, browser, browser_version, os, os_version, screen_size);
-- Sites with events stored before the views existed: their rollups lack those rows until
-- `manage.py rollups rebuild` fills them in (and removes the site from this list), so the
-- planner reads raw events for them meanwhile. Filled by sync_views as it makes the views.
CREATE TABLE IF NOT EXISTS rollup_pending {{on_cluster}}
(
    site_id            UInt64
)
ENGINE = {{replicated}}ReplacingMergeTree
ORDER BY site_id;
