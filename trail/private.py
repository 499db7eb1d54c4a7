"""Trail's data files belong to the user Trail runs as, and to no one else.

The accounts database holds session keys, the daily salts and password and API key hashes;
chDB's directory holds every event; the spool holds raw IP addresses until they are
flushed. `protect()` runs once per process, from the settings, before anything opens them:

- the process umask becomes 0o077, so whatever is created from then on (by SQLite, chDB,
  the spool, Django) is 0600, and its directories 0700;
- what an older Trail or another umask left looser is tightened: on every directory and
  file under the data directories, group and others lose all permission bits (0755 becomes
  0700, 0644 becomes 0600; the owner's bits are left alone). Symbolic links are not
  followed. A walk over a 10-million-event chDB directory takes a few milliseconds.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from trail.config import Config

logger = logging.getLogger(__name__)

UMASK = 0o077
OWNER_ONLY = 0o700  # the permission bits a data file or directory keeps


def protect(config: Config) -> None:
    """Private from now on (umask), and tighten what is already there."""
    os.umask(UMASK)
    refused = [path for root in data_paths(config) for path in tighten(root)]
    if refused:
        logger.warning(
            "could not make %d data file(s) private to this user, e.g. %s (not its owner?)",
            len(refused),
            refused[0],
        )


def data_paths(config: Config) -> list[Path]:
    """The directories and files Trail keeps data in, each once (none inside another)."""
    paths = [config.var_dir]  # the generated secret_key, the spool, SQLite by default
    if config.clickhouse.embedded:
        paths.append(config.clickhouse.data_dir)
    if config.database.get("ENGINE") == "django.db.backends.sqlite3":
        database = Path(str(config.database["NAME"])).resolve()
        paths += [database.with_name(database.name + suffix) for suffix in ("", "-wal", "-shm")]
    roots: list[Path] = []
    for path in sorted(set(paths)):  # a parent sorts before what is inside it
        if not any(path.is_relative_to(root) for root in roots):
            roots.append(path)
    return roots


def tighten(root: Path) -> list[Path]:
    """Take group and other permissions off `root` and all under it; what could not be."""
    refused = []
    for path in _tree(root):
        try:
            mode = os.lstat(path).st_mode
            if not stat.S_ISLNK(mode) and stat.S_IMODE(mode) & ~OWNER_ONLY:
                os.chmod(path, stat.S_IMODE(mode) & OWNER_ONLY)
        except FileNotFoundError:
            continue  # removed meanwhile (chDB merges parts; the flush deletes segments)
        except OSError:
            refused.append(path)
    return refused


def _tree(root: Path) -> Iterable[Path]:
    if not root.exists():
        return
    yield root
    if root.is_dir():
        for directory, subdirectories, files in os.walk(root):
            base = Path(directory)
            for name in (*subdirectories, *files):
                yield base / name
