"""`restore`: bring an install back from a backup of `manage.py backup` (trail.backup).

    manage.py restore DIR [--force]

Every file's checksum is checked before anything is written; an install that holds data is
refused unless `--force`. Trail must be stopped (embedded mode). docs/operations.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common import hooks
from events.clickhouse import ClickHouseError
from trail.backup.manifest import BackupError
from trail.backup.restore import restore
from trail.management.commands.move_data import _Bar, _Lines
from trail.preflight import PreflightError


class Command(BaseCommand):
    help = (
        "Restore a backup made by `manage.py backup` into this install (fresh, or --force"
        " to replace what it holds); checksums are verified first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", metavar="DIR", help="the backup's directory")
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace the data of an install that is not empty",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        write = self.stdout.write
        started = time.monotonic()
        try:
            hooks.preflight("clickhouse")
            progress = _Bar() if sys.stderr.isatty() else _Lines(write)
            restore(
                Path(options["directory"]).expanduser(),
                force=options["force"],
                log=write,
                progress=progress,
            )
        except (BackupError, PreflightError) as exc:
            raise CommandError(str(exc)) from None
        except ClickHouseError as exc:
            raise CommandError(f"ClickHouse: {exc}") from None
        write(self.style.SUCCESS(f"Restore done in {time.monotonic() - started:.1f} s"))
