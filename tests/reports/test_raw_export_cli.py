"""`manage.py export_events` (reports/management/commands/export_events.py) on real chDB:
a file or stdout in each format, a progress bar on a terminal only, a clear CommandError
for bad input, and no partial file when the export fails."""

from __future__ import annotations

import fcntl
import io
import json
import os
import struct
import sys
import termios
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from reports import raw_export
from sites.models import Site
from tests.reports.test_raw_export import FIRST, LAST, traffic

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(make_site: Callable[..., Site], seed: Callable[..., None]) -> Site:
    site = make_site("raw-export-cli.example.com", timezone="Europe/Berlin")
    seed(site, traffic(site))
    return site


def export(site: Site, output: str, *extra: str) -> None:
    call_command(
        "export_events", "--site", site.domain, "--from", FIRST, "--to", LAST,
        "--output", output, *extra,
    )  # fmt: skip


def test_parquet_to_a_file(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "events.parquet"
    export(site, str(out))
    table = pq.read_table(out)
    assert table.num_rows == 7
    assert table.column_names == [column.name for column in raw_export.COLUMNS]
    assert [p.name for p in tmp_path.iterdir()] == ["events.parquet"]  # no temporary left


def test_ndjson_to_stdout_without_a_bar_when_piped(
    site: Site, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    export(site, "-", "--format", "ndjson", "--filters", '[["is","event:name",["Signup"]]]')
    captured = capsysbinary.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [row["name"] for row in rows] == ["Signup"]
    assert captured.err == b""


def _drained(fd: int) -> str:
    """All a terminal has been sent so far."""
    os.set_blocking(fd, False)
    parts = []
    while True:
        try:
            part = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not part:
            break
        parts.append(part)
    return b"".join(parts).decode()


def test_a_terminal_gets_a_progress_bar(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    main, secondary = os.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    terminal = io.TextIOWrapper(io.FileIO(secondary, "w", closefd=True), write_through=True)
    monkeypatch.setattr(sys, "stderr", terminal)
    try:
        export(site, str(tmp_path / "events.csv"), "--format", "csv")
        shown = _drained(main)
    finally:
        terminal.close()
        os.close(main)
    assert "100%" in shown and "7.00/7.00" in shown and "rows/s" in shown
    assert (tmp_path / "events.csv").read_text().count("\n") == 8  # header + 7


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--site", "no-such-site.example.com"], "--site: no site"),
        (["--site", "not a domain!"], "--site:"),
        (["--from", "2026-02-30"], "--from:"),
        (["--to", "yesterday"], "--to:"),
        (["--from", "2026-03-01", "--to", "2026-02-01"], "--from/--to: the last date is before"),
        (["--format", "xlsx"], "--format: expected one of ndjson, csv, parquet"),
        (["--filters", "[["], "--filters: expected a JSON array"),
        (["--filters", '[["is","visit:planet",["x"]]]'], "--filters:"),
        (["--output", "/no/such/dir/events.parquet"], "--output: no directory"),
    ],
)
def test_bad_input_is_a_command_error(
    site: Site, tmp_path: Path, options: list[str], message: str
) -> None:
    arguments = {
        "--site": site.domain,
        "--from": FIRST,
        "--to": LAST,
        "--output": str(tmp_path / "out.parquet"),
    }
    for name, value in zip(options[::2], options[1::2], strict=True):
        arguments[name] = value
    with pytest.raises(CommandError) as raised:
        call_command("export_events", *[part for pair in arguments.items() for part in pair])
    assert str(raised.value).startswith(message)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_leaves_no_file(site: Site, tmp_path: Path) -> None:
    out = tmp_path / "events.ndjson"
    with pytest.raises(CommandError, match="--filters: not a valid RE2"):
        export(
            site, str(out), "--format", "ndjson", "--filters", '[["matches","event:page",["("]]]'
        )
    assert list(tmp_path.iterdir()) == []
