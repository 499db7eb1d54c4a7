-- Visits (sessions), written by the collector as it stitches events with the 30-minute
-- rule, so visit metrics never re-sessionize raw events (docs/clickhouse.md).
-- VersionedCollapsingMergeTree: each change of a visit writes its previous state with
-- sign = -1 and the new state with sign = +1, so sum(sign * x) is exact without FINAL.
CREATE TABLE IF NOT EXISTS sessions {{on_cluster}}
(
    site_id            UInt64,
    session_id         UInt64,
    visitor_id         UInt64,
    sign               Int8,
    version            UInt32,
    start              DateTime64(3, 'UTC'),
    timestamp          DateTime64(3, 'UTC'),
    hostname           LowCardinality(String),
    entry_page         String,
    exit_page          String,
    pageviews          UInt32,
    events             UInt32,
    interactive_events UInt32,
    is_bounce          UInt8,
    duration           UInt32,
    referrer           String,
    referrer_source    LowCardinality(String),
    channel            LowCardinality(String),
    utm_medium         LowCardinality(String),
    utm_source         LowCardinality(String),
    utm_campaign       String,
    utm_content        String,
    utm_term           String,
    click_id_param     LowCardinality(String),
    country_code       LowCardinality(String),
    region             LowCardinality(String),
    city               LowCardinality(String),
    browser            LowCardinality(String),
    browser_version    LowCardinality(String),
    os                 LowCardinality(String),
    os_version         LowCardinality(String),
    device             LowCardinality(String),
    screen_size        LowCardinality(String),
    retention_days     UInt16 DEFAULT 0
)
ENGINE = {{replicated}}VersionedCollapsingMergeTree(sign, version)
PARTITION BY toYYYYMM(start)
ORDER BY (site_id, toDate(start), visitor_id, session_id)
SAMPLE BY visitor_id
TTL if(retention_days = 0, toDateTime('2106-01-01 00:00:00', 'UTC'), toDateTime(start) + toIntervalDay(retention_days))
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 10000;
-- Client-supplied event ids are checked against stored events before a flush inserts
-- them (the same id sent ten times is stored once): a bloom filter skips most granules.
ALTER TABLE events {{on_cluster}} ADD INDEX IF NOT EXISTS event_id_bloom event_id TYPE bloom_filter(0.01) GRANULARITY 4;
