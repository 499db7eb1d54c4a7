"""`backup`: a consistent backup of this install while Trail runs (trail.backup).

    manage.py backup --output DIR

In embedded mode with `manage.py serve` running, the serving process takes the backup
(trail/backup/channel.py); otherwise this command does. docs/operations.md describes it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from common import hooks
from events.clickhouse import ClickHouseError, ClickHouseLocked
from trail.backup import channel
from trail.backup.manifest import BackupError
from trail.backup.take import check_output, take
from trail.management.commands.move_data import _Bar, _Lines
from trail.preflight import PreflightError


class Command(BaseCommand):
    help = (
        "Back up the accounts database, every ClickHouse table and the spool into DIR, with a"
        " manifest of SHA-256 checksums; safe while Trail runs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output", required=True, metavar="DIR", help="a new or empty directory"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        write = self.stdout.write
        output = Path(options["output"]).expanduser().resolve()
        started = time.monotonic()
        try:
            check_output(output)
            holder = _running_holder()
            if holder is not None:
                channel.request_backup(output, log=write, holder=holder)
            else:
                hooks.preflight("clickhouse")
                progress = _Bar() if sys.stderr.isatty() else _Lines(write)
                take(output, log=write, progress=progress)
        except (BackupError, PreflightError) as exc:
            raise CommandError(str(exc)) from None
        except ClickHouseError as exc:
            raise CommandError(f"ClickHouse: {exc}") from None
        write(self.style.SUCCESS(f"Backup done in {time.monotonic() - started:.1f} s: {output}"))


def _running_holder() -> str | None:
    """The pid of the Trail process holding embedded ClickHouse ('' if unknown), or None
    when this command may open it itself (services mode, or no Trail running)."""
    if not settings.CLICKHOUSE.embedded:
        return None
    from events.clickhouse import lock

    try:
        lock.ensure_free(settings.CLICKHOUSE.data_dir)
    except ClickHouseLocked:
        try:
            return lock.lock_path(settings.CLICKHOUSE.data_dir).read_text().strip()
        except OSError:
            return ""
    return None
