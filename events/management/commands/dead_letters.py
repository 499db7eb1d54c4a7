"""`dead_letters list|replay|purge`: the events the flush could not store."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from events import dead_letters
from events.clickhouse import ClickHouseUnavailable, get_client


class Command(BaseCommand):
    help = "List, replay or purge dead letters (events ClickHouse rejected)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["list", "replay", "purge"])
        parser.add_argument("--id", type=int, action="append", dest="ids", help="only these")
        parser.add_argument(
            "--older-than-days", type=int, help="purge: only letters older than this"
        )
        parser.add_argument("--all", action="store_true", help="purge: every letter")

    def handle(self, *args: Any, **options: Any) -> None:
        action, ids = options["action"], options["ids"]
        if action == "list":
            found = dead_letters.letters(ids=ids)
            for letter in found:
                name = letter.event.get("n") or (letter.row or {}).get("name", "?")
                self.stdout.write(
                    f"{letter.id}\t{letter.created_at:%Y-%m-%d %H:%M:%S}\t{name}\t"
                    f"{letter.segment}:{letter.index}\t{letter.reason}"
                )
            self.stdout.write(f"{found.count()} dead letter(s)")
        elif action == "replay":
            try:
                report = dead_letters.replay(get_client(), ids=ids)
            except ClickHouseUnavailable as exc:
                raise CommandError(f"ClickHouse is unavailable: {exc}") from None
            self.stdout.write(f"replayed {report.replayed}, failed again {report.failed}")
            if report.failed:
                raise CommandError("some letters failed again: see `dead_letters list`")
        else:
            days = options["older_than_days"]
            if not ids and days is None and not options["all"]:
                raise CommandError("purge what? give --id, --older-than-days or --all")
            older = dt.timedelta(days=days) if days is not None else None
            self.stdout.write(f"purged {dead_letters.purge(ids=ids, older_than=older)}")
