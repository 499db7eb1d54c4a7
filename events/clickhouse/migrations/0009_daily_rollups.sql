-- The daily tier of the rollups (docs/rollups.md, "The daily tier"): per site and closed
-- UTC day, exact visitor *counts* (not sets) and the sums of the hourly rollups, written
-- by the closing job (events/rollups_daily.py) from the hourly rows or, for a day
-- recomputed after a delete, an import or a late event, from the raw rows. Visitor ids
-- change every UTC day (events/salts.py), so the visitors of whole UTC days add up.
-- A row is of one kind:
--   'day'  the whole UTC day (`timestamp` = its first instant);
--   'part' the piece of the UTC day in one local day of the site's zone (`zone`), for the
--          days a report's bucket boundary or range edge cuts (`timestamp` = the piece's
--          first instant); sessions: the visitors of the visits begun in the piece (no
--          sums: those are in the 'span' rows);
--   'active' sessions only: the visitors of the visits active in the piece (a time series
--          counts a visit in every bucket it was active in);
--   'span' sessions only: the visits' sums by the piece they started in (`start`) and the
--          piece of their last event (`timestamp`), no visitors;
--   'month' the 'day' rows of a UTC calendar month summed (`day` = its first day), for the
--          whole months of a long range that no bucket cuts.
-- Columns keep the raw tables' names (as the hourly rollups' do); every column ZSTD: the
-- tier is read whole for long ranges and must stay a small share of the raw table. One
-- partition a year: a 12-month read opens two parts per table, not thirteen.
CREATE TABLE IF NOT EXISTS rollup_events_daily {{on_cluster}}
(
    site_id            UInt64,
    dimension          LowCardinality(String),
    day                Date CODEC(ZSTD(3)),
    kind               Enum8('day' = 1, 'part' = 2, 'span' = 3, 'active' = 4, 'month' = 5),
    zone               LowCardinality(String) CODEC(ZSTD(3)),
    timestamp          DateTime('UTC') CODEC(ZSTD(3)),
    name               LowCardinality(String) CODEC(ZSTD(3)),
    pathname           String CODEC(ZSTD(3)),
    visitors           UInt64 CODEC(ZSTD(3)),
    pageviews          UInt64 CODEC(ZSTD(3)),
    events             UInt64 CODEC(ZSTD(3))
)
ENGINE = {{replicated}}MergeTree
PARTITION BY toYear(day)
ORDER BY (site_id, dimension, day, kind, timestamp, name, pathname);
CREATE TABLE IF NOT EXISTS rollup_sessions_daily {{on_cluster}}
(
    site_id            UInt64,
    dimension          LowCardinality(String),
    day                Date CODEC(ZSTD(3)),
    kind               Enum8('day' = 1, 'part' = 2, 'span' = 3, 'active' = 4, 'month' = 5),
    zone               LowCardinality(String) CODEC(ZSTD(3)),
    start              DateTime('UTC') CODEC(ZSTD(3)),
    timestamp          DateTime('UTC') CODEC(ZSTD(3)),
    entry_page         String CODEC(ZSTD(3)),
    referrer_source    LowCardinality(String) CODEC(ZSTD(3)),
    referrer           String CODEC(ZSTD(3)),
    channel            LowCardinality(String) CODEC(ZSTD(3)),
    utm_medium         LowCardinality(String) CODEC(ZSTD(3)),
    utm_source         LowCardinality(String) CODEC(ZSTD(3)),
    utm_campaign       String CODEC(ZSTD(3)),
    utm_content        String CODEC(ZSTD(3)),
    utm_term           String CODEC(ZSTD(3)),
    country_code       LowCardinality(String) CODEC(ZSTD(3)),
    region             LowCardinality(String) CODEC(ZSTD(3)),
    city               LowCardinality(String) CODEC(ZSTD(3)),
    device             LowCardinality(String) CODEC(ZSTD(3)),
    browser            LowCardinality(String) CODEC(ZSTD(3)),
    browser_version    LowCardinality(String) CODEC(ZSTD(3)),
    os                 LowCardinality(String) CODEC(ZSTD(3)),
    os_version         LowCardinality(String) CODEC(ZSTD(3)),
    screen_size        LowCardinality(String) CODEC(ZSTD(3)),
    visitors           UInt64 CODEC(ZSTD(3)),
    visits             Int64 CODEC(ZSTD(3)),
    pageviews          Int64 CODEC(ZSTD(3)),
    events             Int64 CODEC(ZSTD(3)),
    bounces            Int64 CODEC(ZSTD(3)),
    duration           Int64 CODEC(ZSTD(3))
)
ENGINE = {{replicated}}MergeTree
PARTITION BY toYear(day)
ORDER BY (site_id, dimension, day, kind, start, timestamp, entry_page, referrer_source, referrer, channel, utm_medium, utm_source, utm_campaign, utm_content, utm_term, country_code, region, city, device, browser, browser_version, os, os_version, screen_size);
-- The UTC days that hold rows inserted on another UTC day (a batch event dated in the
-- past, an import, a flush just after midnight): their visitor ids may be another day's,
-- so visitors summed over days that include one are an estimate (`meta.estimated`), and
-- a closed day that receives rows is written again by the closing job. Filled by
-- materialized views (rollup_views.sql); `at` is the latest such insert.
CREATE TABLE IF NOT EXISTS rollup_mixed {{on_cluster}}
(
    site_id            UInt64,
    day                Date,
    at                 DateTime('UTC')
)
ENGINE = {{replicated}}ReplacingMergeTree(at)
ORDER BY (site_id, day);
-- When each site's day was last written to the daily tier (by the closing job or a
-- recomputation): a day with a later `rollup_mixed.at` is written again.
CREATE TABLE IF NOT EXISTS rollup_closed {{on_cluster}}
(
    site_id            UInt64,
    day                Date,
    at                 DateTime('UTC')
)
ENGINE = {{replicated}}ReplacingMergeTree(at)
ORDER BY (site_id, day);
