"""`move_data`: copy this install's data into another configuration (trail.move).

    manage.py move_data --to-database URL --to-clickhouse URL [--chunk-rows N]

Run it with the source's environment (the install being left, stopped), naming the target
by its URLs; it can be run again after an interruption. docs/scaling.md walks through it.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common import hooks
from events.clickhouse import ClickHouseError, get_client
from trail import move


class _Lines:
    """Progress as plain lines (not a terminal): at most one every few seconds."""

    def __init__(self, write: Any) -> None:
        self.write, self.total, self.done, self.last = write, 0, 0, 0.0

    def start(self, total_rows: int) -> None:
        self.total, self.started = total_rows, time.monotonic()

    def advance(self, chunk: move.Chunk) -> None:
        self.done += chunk.rows
        now = time.monotonic()
        if now - self.last >= 5 or self.done == self.total:
            self.last = now
            share = 100 * self.done / self.total if self.total else 100
            self.write(f"ClickHouse: {self.done:,} / {self.total:,} rows ({share:.0f} %)")

    def finish(self) -> None:
        pass


class _Bar:
    """Progress as a tqdm bar (a terminal)."""

    def __init__(self) -> None:
        self.bar: Any = None

    def start(self, total_rows: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total_rows, unit=" rows", unit_scale=True, desc="ClickHouse")

    def advance(self, chunk: move.Chunk) -> None:
        self.bar.update(chunk.rows)

    def finish(self) -> None:
        self.bar.close()


class Command(BaseCommand):
    help = (
        "Copy the accounts database and every ClickHouse table of this configuration into"
        " another one (embedded -> services); resumable; verifies counts per table and site."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--to-database", required=True, metavar="URL")
        parser.add_argument("--to-clickhouse", required=True, metavar="URL")
        parser.add_argument(
            "--chunk-rows", type=int, default=move.CHUNK_ROWS, help="rows per ClickHouse chunk"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["chunk_rows"] < 1:
            raise CommandError("--chunk-rows: expected a whole number above 0")
        hooks.preflight("clickhouse")
        write = self.stdout.write
        source = get_client()
        try:
            target = move.open_clickhouse(options["to_clickhouse"], source)
            try:
                alias = move.open_database(options["to_database"])
                try:
                    progress = _Bar() if sys.stderr.isatty() else _Lines(write)
                    started = time.monotonic()
                    result = move.move(
                        source,
                        target,
                        alias,
                        chunk_rows=options["chunk_rows"],
                        log=write,
                        progress=progress,
                    )
                finally:
                    move.close_database()
            finally:
                target.close()
        except move.MoveError as exc:
            raise CommandError(str(exc)) from None
        except ClickHouseError as exc:
            raise CommandError(f"ClickHouse: {exc}") from None
        elapsed = time.monotonic() - started
        self._report(result, elapsed)
        if not result.ok:
            raise CommandError("the counts differ (above): run move_data again")

    def _report(self, result: move.Result, elapsed: float) -> None:
        write = self.stdout.write
        write("")
        write("Accounts database (rows):")
        for label, rows in result.database.items():
            write(f"  {label:<32} {rows:>10,}")
        write("ClickHouse (per table and site):")
        write(f"  {'table':<12} {'site':>20} {'measure':<10} {'source':>12} {'target':>12}")
        for check in result.checks:
            mark = "ok" if check.ok else "DIFFERS"
            site = "-" if check.site_id is None else str(check.site_id)
            write(
                f"  {check.table:<12} {site:>20} {check.measure:<10}"
                f" {check.source:>12,} {check.target:>12,}  {mark}"
            )
        rate = result.copied_rows / elapsed if elapsed > 0 else 0
        write(
            f"{result.copied_rows:,} rows copied in {elapsed:.1f} s ({rate:,.0f} rows/s);"
            f" {result.skipped_chunks} chunks were copied by an earlier run."
        )
        if result.ok:
            write(self.style.SUCCESS("Every count matches."))
