-- Raw imports' staging table partitioned by import (docs/imports.md): an import's staged
-- rows are dropped with their partition once published or abandoned (a metadata change,
-- where a DELETE of a million rows took a second), and counted from that partition alone.
-- Staged rows are transient (a running import's, moved into `events` at its end), so the
-- table is made again with the same columns rather than altered: an import running across
-- this migration fails, and its owner starts it again.
DROP TABLE IF EXISTS import_events_by_import {{on_cluster}} SYNC;
CREATE TABLE import_events_by_import {{on_cluster}} AS import_events
ENGINE = {{replicated}}MergeTree
PARTITION BY import_id
ORDER BY (site_id, session_id, timestamp);
DROP TABLE import_events {{on_cluster}} SYNC;
RENAME TABLE import_events_by_import TO import_events {{on_cluster}};
