"""Backup and restore of a whole install (`manage.py backup`, `manage.py restore`).

- `config`: the periodic backup's settings (read by trail/settings.py);
- `manifest`: the backup's layout, its checksums and versions;
- `take`: writing a backup, in the process that may open ClickHouse;
- `restore`: checking a backup, then bringing an install back from it;
- `channel`: how the command asks a running embedded Trail to take the backup;
- `periodic`: the periodic job and the pruning of old backups.

docs/operations.md describes them for people.
"""
