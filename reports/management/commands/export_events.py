"""`export_events --site DOMAIN --from DATE --to DATE [--format F] [--filters JSON]
--output FILE`: a site's raw events of local days FROM..TO, as the API's export writes them
(reports/raw_export.py, docs/exports.md "Raw events"). `--output -` writes to stdout.

A progress bar goes to stderr when it is a terminal (rows for NDJSON and CSV, bytes for
Parquet), none when piped. A file is written beside its name and renamed into place when
complete, so a failed or interrupted export leaves no partial file behind.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from accounts.errors import ServiceError
from reports import raw_export
from sites.domains import normalize_domain
from sites.models import Site


def _site(domain: str) -> Site:
    try:
        canonical = normalize_domain(domain)
    except ServiceError:
        raise CommandError(f"--site: {domain!r} is not a domain") from None
    site = Site.objects.filter(domain=canonical, deleted_at__isnull=True).first()
    if site is None:
        raise CommandError(f"--site: no site {canonical!r}")
    return site


def _copy(chunks: Iterator[bytes], out: BinaryIO, bar: tqdm | None, fmt: str) -> None:
    """Write the chunks; the bar counts rows (lines, a CSV's header not) or Parquet's bytes."""
    header = 1 if fmt == "csv" else 0
    for chunk in chunks:
        out.write(chunk)
        if bar is not None:
            if fmt == "parquet":
                bar.update(len(chunk))
            else:
                lines = chunk.count(b"\n")
                bar.update(lines - min(header, lines))
                header -= min(header, lines)


class Command(BaseCommand):
    help = "Export a site's raw events (NDJSON, CSV or Parquet) to a file or stdout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", required=True, help="the site's domain")
        parser.add_argument(
            "--from", dest="first", required=True, help="first local day, YYYY-MM-DD"
        )
        parser.add_argument("--to", dest="last", required=True, help="last local day, YYYY-MM-DD")
        parser.add_argument("--format", default="parquet", help="parquet (default), ndjson, csv")
        parser.add_argument("--filters", default="", help="the Stats API's filters as JSON")
        parser.add_argument("--output", required=True, help="a file, or - for stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        site = _site(options["site"])
        try:
            req = raw_export.parse_request(
                site,
                date_range=[options["first"], options["last"]],
                format=options["format"],
                filters=options["filters"],
            )
        except ServiceError as exc:
            raise CommandError(_option(exc)) from None
        output = options["output"]
        if output != "-" and not Path(output).parent.is_dir():
            raise CommandError(f"--output: no directory {str(Path(output).parent)!r}")
        bar = None
        if sys.stderr.isatty():
            rows = req.format != "parquet"
            bar = tqdm(
                total=raw_export.count_rows(req) if rows else None,
                unit=" rows" if rows else "B",
                unit_scale=True,
                unit_divisor=1000 if rows else 1024,
                desc=req.format,
                file=sys.stderr,
            )
        try:
            chunks = raw_export.stream(req)
        except ServiceError as exc:
            raise CommandError(_option(exc)) from None
        try:
            if output == "-":
                _copy(chunks, sys.stdout.buffer, bar, req.format)
                sys.stdout.buffer.flush()
            else:
                _write_file(Path(output), chunks, bar, req.format)
        finally:
            if bar is not None:
                bar.close()


def _option(exc: ServiceError) -> str:
    """A request field's error in the command's words (`date_range[0]` is `--from`)."""
    field = exc.field or ""
    option = {"date_range[0]": "--from", "date_range[1]": "--to", "date_range": "--from/--to"}.get(
        field, f"--{field.split('[')[0]}" if field else ""
    )
    return f"{option}: {exc.message}" if option else exc.message


def _write_file(path: Path, chunks: Iterator[bytes], bar: tqdm | None, fmt: str) -> None:
    """Beside `path`, renamed into place when complete (private to its owner: mode 0600)."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            _copy(chunks, out, bar, fmt)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
