"""The periodic backup's settings, read from the environment once (trail/settings.py).

Kept apart from `trail.config` (whose `Config` the settings build first) so that nothing
here imports Django: settings may import this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from trail.config import ConfigError


@dataclass(frozen=True)
class BackupConfig:
    directory: Path | None  # None: no periodic backup
    every_hours: float
    keep: int

    @property
    def enabled(self) -> bool:
        return self.directory is not None


def load(env: Mapping[str, str]) -> BackupConfig:
    raw_dir = env.get("TRAIL_BACKUP_DIR", "").strip()
    directory = Path(raw_dir).expanduser().resolve() if raw_dir else None
    every = _number(env, "TRAIL_BACKUP_EVERY_HOURS", "24")
    keep = _number(env, "TRAIL_BACKUP_KEEP", "7")
    if every <= 0:
        raise ConfigError("TRAIL_BACKUP_EVERY_HOURS: expected a number of hours above 0")
    if keep != int(keep) or keep < 1:
        raise ConfigError("TRAIL_BACKUP_KEEP: expected a whole number of backups, at least 1")
    return BackupConfig(directory=directory, every_hours=every, keep=int(keep))


def _number(env: Mapping[str, str], name: str, default: str) -> float:
    text = env.get(name, "").strip() or default
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {text!r}") from None
