-- Regions are stored by English name: DB-IP City Lite, the default database, has no
-- subdivision codes (docs/clickhouse.md).
ALTER TABLE events {{on_cluster}} RENAME COLUMN IF EXISTS region_code TO region;
