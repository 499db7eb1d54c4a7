"""CSV that a spreadsheet opens as data: every CSV Trail writes goes through `csv_text`.

Event names, props, UTM values and referrers come from anyone, through the public ingest.
A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (and skips a
leading tab or carriage return before doing so), so such a text cell is written with a
leading apostrophe, which spreadsheets show as text (OWASP's rule for CSV injection).
Numbers are not text and are written as they are: `-3` stays a number. docs/exports.md.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> object:
    """`value` as a CSV cell: a text that a spreadsheet would run, made inert."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    """`rows` (the first one the header) as CSV text, every cell through `cell`."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return out.getvalue()
