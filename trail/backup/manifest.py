"""A backup's layout and its manifest (`manifest.json`, written last).

    DIR/manifest.json                  format version, Trail's versions, tables, files
    DIR/database/accounts.sqlite3      embedded: SQLite's online backup of the accounts DB
    DIR/database/accounts.pgdump       services: `pg_dump --format=custom`
    DIR/clickhouse/<table>/NNNNN.native  the table's rows, ClickHouse's Native format
    DIR/spool/<segment>.seg            events accepted but not yet in ClickHouse

Every file is listed with its size and SHA-256. `verify` checks them all before a restore
writes anything, and refuses a manifest that names a file outside the backup.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

FORMAT = "trail-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_READ = 1 << 20


class BackupError(Exception):
    """The backup cannot be taken or restored; the message says why and what to do."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_READ):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Manifest:
    """What a backup holds; `files` maps a relative path to its size and checksum."""

    created_at: str
    mode: str  # "embedded" or "services"
    database: dict[str, Any]  # {"engine": "sqlite"|"postgresql", "file": relative path}
    versions: dict[str, Any]  # {"trail", "django_migrations", "clickhouse_migrations"}
    tables: list[dict[str, Any]] = field(default_factory=list)  # name, columns, rows, files
    spool: list[str] = field(default_factory=list)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_file(self, root: Path, path: Path, digest: str | None = None) -> None:
        """List a file written under `root` (its checksum computed unless given)."""
        relative = path.relative_to(root).as_posix()
        self.files[relative] = {
            "bytes": path.stat().st_size,
            "sha256": digest or sha256_file(path),
        }

    def write(self, root: Path) -> None:
        body = {"format": FORMAT, "format_version": FORMAT_VERSION, **self.__dict__}
        path = root / MANIFEST
        path.write_text(json.dumps(body, indent=1, sort_keys=True))

    @property
    def rows(self) -> int:
        return sum(int(table["rows"]) for table in self.tables)


def read(root: Path) -> Manifest:
    """The manifest of the backup in `root`, its shape checked (not yet its files)."""
    path = root / MANIFEST
    if not root.is_dir():
        raise BackupError(f"{root}: no such backup directory")
    if not path.is_file():
        raise BackupError(f"{root}: no {MANIFEST}: not a Trail backup, or one never finished")
    try:
        body = json.loads(path.read_text())
        if body.get("format") != FORMAT:
            raise BackupError(f"{path}: not a Trail backup manifest")
        if body.get("format_version") != FORMAT_VERSION:
            raise BackupError(
                f"{path}: backup format version {body.get('format_version')!r}; this Trail"
                f" reads version {FORMAT_VERSION}"
            )
        fields = {k: body[k] for k in Manifest.__dataclass_fields__}
        manifest = Manifest(**fields)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BackupError(f"{path}: malformed manifest ({exc})") from None
    for name in manifest.files:
        _inside(root, name)
    return manifest


def _inside(root: Path, name: object) -> Path:
    """`root / name`, refusing a name that leaves the backup (absolute, `..`)."""
    if not isinstance(name, str) or not name:
        raise BackupError(f"manifest names a file {name!r}: not a relative path")
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or "\\" in name:
        raise BackupError(f"manifest names a file outside the backup: {name!r}")
    return root / pure


def verify(root: Path, manifest: Manifest, progress: Any = None) -> None:
    """Check every listed file's size and SHA-256, and that the parts the manifest uses are
    listed; raise `BackupError` naming the first bad file. Reads, never writes."""
    used = [manifest.database.get("file"), *manifest.spool]
    used += [name for table in manifest.tables for name in table.get("files", [])]
    for name in used:
        if name not in manifest.files:
            raise BackupError(f"the manifest uses {name!r} but lists no checksum for it")
    for name, expected in sorted(manifest.files.items()):
        path = _inside(root, name)
        if not path.is_file():
            raise BackupError(f"corrupt backup: {name} is missing")
        if path.stat().st_size != expected.get("bytes"):
            raise BackupError(
                f"corrupt backup: {name} has {path.stat().st_size} bytes,"
                f" the manifest says {expected.get('bytes')}"
            )
        if sha256_file(path) != expected.get("sha256"):
            raise BackupError(f"corrupt backup: {name} does not match its SHA-256 checksum")
        if progress is not None:
            progress(name)


def path_of(root: Path, name: str) -> Path:
    return _inside(root, name)
