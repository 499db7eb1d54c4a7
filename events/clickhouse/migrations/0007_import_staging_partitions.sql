-- Raw imports' staging table partitioned by import (docs/imports.md): an import's staged
-- rows are dropped with their partition once published or abandoned (a metadata change,
-- where a DELETE of a million rows took a second), and counted from that partition alone.
-- Staged rows are transient (a running import's, moved into `events` at its end), so the
-- table is made again rather than altered: an import running across this migration fails
-- and is retried by its owner.
DROP TABLE IF EXISTS import_events {{on_cluster}} SYNC;
CREATE TABLE IF NOT EXISTS import_events {{on_cluster}}
(
    import_id          String,
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
    region             LowCardinality(String),
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
    engagement_ms      UInt32
)
ENGINE = {{replicated}}MergeTree
PARTITION BY import_id
ORDER BY (site_id, session_id, timestamp);
