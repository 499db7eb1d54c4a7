-- Pages as dictionary-encoded strings: a site has thousands of distinct paths, not millions
-- of rows' worth, so reports group and filter on small integer codes and evaluate path
-- patterns once per distinct path (docs/clickhouse.md, "Page columns").
ALTER TABLE events {{on_cluster}} MODIFY COLUMN pathname LowCardinality(String);
ALTER TABLE sessions {{on_cluster}} MODIFY COLUMN entry_page LowCardinality(String), MODIFY COLUMN exit_page LowCardinality(String);
