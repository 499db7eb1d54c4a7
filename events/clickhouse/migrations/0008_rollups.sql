-- Rollups (docs/rollups.md): per-site aggregates of `events` and `sessions` by UTC hour,
-- written by materialized views as rows arrive and kept forever; the planner answers a
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
-- '' rows: the site's hour; 'event' rows: one event name on one page (any event's page:
-- a page filter counts the custom events sent from it too).
-- Engagement events are no event of a report: left out.
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_events_mv {{on_cluster}} TO rollup_events AS
SELECT
    site_id,
    dimension,
    hour AS timestamp,
    if(dimension = 'event', s_name, '') AS name,
    if(dimension = 'event', s_pathname, '') AS pathname,
    uniqExactState(visitor_id) AS visitors,
    toUInt64(countIf(s_name = 'pageview')) AS pageviews,
    toUInt64(count()) AS events
FROM
(
    SELECT site_id, visitor_id, toStartOfHour(toDateTime(timestamp, 'UTC')) AS hour,
        name AS s_name, pathname AS s_pathname
    FROM events
    WHERE name != 'engagement'
)
ARRAY JOIN ['', 'event'] AS dimension
GROUP BY site_id, dimension, timestamp, name, pathname;
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
-- The exit page is left out: it changes as a visit grows (docs/rollups.md).
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_sessions_mv {{on_cluster}} TO rollup_sessions AS
SELECT
    site_id,
    dimension,
    start_hour AS start,
    end_hour AS timestamp,
    if(dimension = 'visit:entry_page', s_entry_page, '') AS entry_page,
    if(dimension = 'visit:source', s_referrer_source, '') AS referrer_source,
    if(dimension = 'visit:referrer', s_referrer, '') AS referrer,
    if(dimension = 'visit:channel', s_channel, '') AS channel,
    if(dimension = 'visit:utm_medium', s_utm_medium, '') AS utm_medium,
    if(dimension = 'visit:utm_source', s_utm_source, '') AS utm_source,
    if(dimension = 'visit:utm_campaign', s_utm_campaign, '') AS utm_campaign,
    if(dimension = 'visit:utm_content', s_utm_content, '') AS utm_content,
    if(dimension = 'visit:utm_term', s_utm_term, '') AS utm_term,
    if(dimension = 'visit:country', s_country_code, '') AS country_code,
    if(dimension = 'visit:region', s_region, '') AS region,
    if(dimension = 'visit:city', s_city, '') AS city,
    if(dimension = 'visit:device', s_device, '') AS device,
    if(dimension = 'visit:browser', s_browser, '') AS browser,
    if(dimension = 'visit:browser_version', s_browser_version, '') AS browser_version,
    if(dimension = 'visit:os', s_os, '') AS os,
    if(dimension = 'visit:os_version', s_os_version, '') AS os_version,
    if(dimension = 'visit:screen', s_screen_size, '') AS screen_size,
    uniqExactState(visitor_id) AS visitors,
    sum(toInt64(sign)) AS visits,
    sum(sign * toInt64(s_pageviews)) AS pageviews,
    sum(sign * toInt64(s_events)) AS events,
    sum(sign * toInt64(is_bounce)) AS bounces,
    sum(sign * toInt64(s_duration)) AS duration
FROM
(
    SELECT site_id, visitor_id, sign, is_bounce,
        toStartOfHour(toDateTime(start, 'UTC')) AS start_hour,
        toStartOfHour(toDateTime(timestamp, 'UTC')) AS end_hour,
        pageviews AS s_pageviews, events AS s_events, duration AS s_duration,
        entry_page AS s_entry_page, referrer_source AS s_referrer_source, referrer AS s_referrer, channel AS s_channel, utm_medium AS s_utm_medium, utm_source AS s_utm_source, utm_campaign AS s_utm_campaign, utm_content AS s_utm_content, utm_term AS s_utm_term, country_code AS s_country_code, region AS s_region, city AS s_city, device AS s_device, browser AS s_browser, browser_version AS s_browser_version, os AS s_os, os_version AS s_os_version, screen_size AS s_screen_size
    FROM sessions
)
ARRAY JOIN ['', 'visit:entry_page', 'visit:source', 'visit:referrer', 'visit:channel', 'visit:utm_medium', 'visit:utm_source', 'visit:utm_campaign', 'visit:utm_content', 'visit:utm_term', 'visit:country', 'visit:region', 'visit:city', 'visit:device', 'visit:browser', 'visit:browser_version', 'visit:os', 'visit:os_version', 'visit:screen'] AS dimension
GROUP BY site_id, dimension, start, timestamp, entry_page, referrer_source, referrer, channel, utm_medium, utm_source, utm_campaign, utm_content, utm_term, country_code, region, city, device, browser, browser_version, os, os_version, screen_size;
-- Sites with events stored before the views existed: their rollups lack those rows until
-- `manage.py rollups rebuild` fills them in (and removes the site from this list), so the
-- planner reads raw events for them meanwhile. Listed after the views are made, so no
-- event can slip between the two.
CREATE TABLE IF NOT EXISTS rollup_pending {{on_cluster}}
(
    site_id            UInt64
)
ENGINE = {{replicated}}ReplacingMergeTree
ORDER BY site_id;
INSERT INTO rollup_pending SELECT DISTINCT site_id FROM events;
