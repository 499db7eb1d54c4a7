-- Raw imports (docs/imports.md, "Jobs, API and CLI"): an import's events are written to
-- `import_events` first, invisible to every report, and moved into `events` (and their
-- visits into `sessions`) by one INSERT … SELECT once the whole file was read; the staging
-- rows are then deleted. `import_id` on `events` and `sessions` marks the rows an import
-- brought ('' for the collector's), so deleting an import removes exactly its rows.
ALTER TABLE events {{on_cluster}} ADD COLUMN IF NOT EXISTS import_id LowCardinality(String) DEFAULT '';
ALTER TABLE sessions {{on_cluster}} ADD COLUMN IF NOT EXISTS import_id LowCardinality(String) DEFAULT '';
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
ORDER BY (import_id, site_id, session_id, timestamp);
