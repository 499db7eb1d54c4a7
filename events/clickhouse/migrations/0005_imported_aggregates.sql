-- Daily aggregates imported from another analytics tool (Plausible's CSV export, issue 18):
-- one table per report, each row a day's numbers for one value of its dimension(s), tagged
-- with the import that wrote it so that deleting an import removes exactly its rows
-- (docs/imports-plausible.md). Reports add them only when asked (`include.imports`).
-- One partition per import: publishing a staged import and deleting one drop a partition
-- (instant), where a DELETE rewrote every part of every month.
CREATE TABLE IF NOT EXISTS imported_visitors {{on_cluster}}
(
    site_id        UInt64,
    import_id      String,
    date           Date,
    visitors       UInt64,
    pageviews      UInt64,
    bounces        UInt64,
    visits         UInt64,
    visit_duration UInt64
)
ENGINE = {{replicated}}MergeTree
PARTITION BY (site_id, import_id)
ORDER BY (site_id, date, import_id);
CREATE TABLE IF NOT EXISTS imported_sources {{on_cluster}}
(
    site_id        UInt64,
    import_id      String,
    date           Date,
    source         String,
    referrer       String,
    utm_source     String,
    utm_medium     String,
    utm_campaign   String,
    utm_content    String,
    utm_term       String,
    pageviews      UInt64,
    visitors       UInt64,
    visits         UInt64,
    visit_duration UInt64,
    bounces        UInt64
)
ENGINE = {{replicated}}MergeTree
PARTITION BY (site_id, import_id)
ORDER BY (site_id, date, import_id, source);
CREATE TABLE IF NOT EXISTS imported_pages {{on_cluster}}
(
    site_id      UInt64,
    import_id    String,
    date         Date,
    hostname     String,
    page         String,
    visits       UInt64,
    visitors     UInt64,
    pageviews    UInt64,
    exits        UInt64,
    time_on_page UInt64
)
ENGINE = {{replicated}}MergeTree
PARTITION BY (site_id, import_id)
ORDER BY (site_id, date, import_id, page);
CREATE TABLE IF NOT EXISTS imported_entry_pages {{on_cluster}}
(
    site_id        UInt64,
    import_id      String,
    date           Date,
    entry_page     String,
    visitors       UInt64,
    entrances      UInt64,
    visit_duration UInt64,
    bounces        UInt64,
    pageviews      UInt64
)
ENGINE = {{replicated}}MergeTree
PARTITION BY (site_id, import_id)
ORDER BY (site_id, date, import_id, entry_page);
CREATE TABLE IF NOT EXISTS imported_exit_pages {{on_cluster}}
(
    site_id        UInt64,
    import_id      String,
    date           Date,
    exit_page      String,
    visitors       UInt64,
    visit_duration UInt64,
    exits          UInt64,
    bounces        UInt64,
    pageviews      UInt64
)
ENGINE = {{replicated}}MergeTree
PARTITION BY (site_id, import_id)
ORDER BY (site_id, date, import_id, exit_page);
CREATE TABLE IF NOT EXISTS imported_locations {{on_cluster}}
(
    site_id        UInt64,
    import_id      String,
    date           Date,
    country        String,
    region         String,
    city           UInt64,
    visitors       UInt64,
    visits         UInt64,
    visit_duration UInt64,
    bounces        UInt64,
    pageviews      UInt64
)
ENGINE = {{replicated}}MergeTree
PARTITION BY (site_id, import_id)
ORDER BY (site_id, date, import_id, country);
CREATE TABLE IF NOT EXISTS imported_devices {{on_cluster}}
(
    site_id        UInt64,
    import_id      String,
    date           Date,
    device         String,
    visitors       UInt64,
    visits         UInt64,
    visit_duration UInt64,
    bounces        UInt64,
    pageviews      UInt64
)
ENGINE = {{replicated}}MergeTree
PARTITION BY (site_id, import_id)
ORDER BY (site_id, date, import_id, device);
CREATE TABLE IF NOT EXISTS imported_browsers {{on_cluster}}
(
    site_id         UInt64,
    import_id       String,
    date            Date,
    browser         String,
    browser_version String,
    visitors        UInt64,
    visits          UInt64,
    visit_duration  UInt64,
    bounces         UInt64,
    pageviews       UInt64
)
ENGINE = {{replicated}}MergeTree
PARTITION BY (site_id, import_id)
ORDER BY (site_id, date, import_id, browser);
CREATE TABLE IF NOT EXISTS imported_operating_systems {{on_cluster}}
(
    site_id                  UInt64,
    import_id                String,
    date                     Date,
    operating_system         String,
    operating_system_version String,
    visitors                 UInt64,
    visits                   UInt64,
    visit_duration           UInt64,
    bounces                  UInt64,
    pageviews                UInt64
)
ENGINE = {{replicated}}MergeTree
PARTITION BY (site_id, import_id)
ORDER BY (site_id, date, import_id, operating_system);
CREATE TABLE IF NOT EXISTS imported_custom_events {{on_cluster}}
(
    site_id   UInt64,
    import_id String,
    date      Date,
    name      String,
    link_url  String,
    path      String,
    visitors  UInt64,
    events    UInt64
)
ENGINE = {{replicated}}MergeTree
PARTITION BY (site_id, import_id)
ORDER BY (site_id, date, import_id, name);
