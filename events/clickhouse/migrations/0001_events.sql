-- The events table: one row per accepted event (pageview, custom event, engagement).
-- Design notes and the reasons behind each choice: docs/clickhouse.md.
CREATE TABLE IF NOT EXISTS events {{on_cluster}}
(
    site_id            UInt64,
    event_id           UUID,
    timestamp          DateTime64(3, 'UTC'),
    name               LowCardinality(String),
    visitor_id         UInt64,
    session_id         UInt64,
    hostname           LowCardinality(String),
    pathname           String,
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
    region_code        LowCardinality(String),
    city               LowCardinality(String),
    browser            LowCardinality(String),
    browser_version    LowCardinality(String),
    os                 LowCardinality(String),
    os_version         LowCardinality(String),
    device             LowCardinality(String),
    screen_size        LowCardinality(String),
    props              Map(String, String),
    revenue_amount     Nullable(Decimal(18, 3)),
    revenue_currency   LowCardinality(String),
    interactive        Bool DEFAULT true,
    scroll_depth       UInt8,
    engagement_ms      UInt32,
    retention_days     UInt16 DEFAULT 0,
    inserted_at        DateTime('UTC') DEFAULT now()
)
ENGINE = {{replicated}}MergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (site_id, toDate(timestamp), name, visitor_id, timestamp)
SAMPLE BY visitor_id
TTL if(retention_days = 0, toDateTime('2106-01-01 00:00:00', 'UTC'), toDateTime(timestamp) + toIntervalDay(retention_days))
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 10000;
