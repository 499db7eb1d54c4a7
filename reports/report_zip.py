"""The report as a zip of CSVs: every panel tab (`reports.panels.PANELS`) and the time series,
over one date range and filters. The dashboard's synchronous "Download all" and the
"report" export job (`reports/export_jobs.py`) both write it here, so they cannot differ
(docs/exports.md).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from typing import IO, Any

from common.csvsafe import csv_text
from reports.panels import PANELS, series, tab_results
from sites.models import Site

ROWS_PER_TAB = 10_000  # a tab's CSV holds its best rows up to this many
FILES = sum(len(panel.tabs) for panel in PANELS.values()) + 1  # every tab and the series

# What the zip writer reports after each file: (files written, CSV data rows so far).
Progress = Callable[[int, int], None]


def tab_csv(
    site: Site, base: dict[str, Any], panel: str, tab: str, *, prop: str = "", event: str = ""
) -> tuple[str, int]:
    """A panel tab's CSV (its label column, then its metrics) and its number of data rows."""
    chosen = PANELS[panel].tabs[tab]
    _, found = tab_results(site, base, panel, tab, limit=ROWS_PER_TAB, prop=prop, event=event)
    header = [prop or chosen.label, *chosen.metrics]
    rows = [[r["dimensions"][0], *r["metrics"]] for r in found]
    return csv_text([header, *rows]), len(rows)


def write_zip(
    out: IO[bytes],
    site: Site,
    base: dict[str, Any],
    *,
    metric: str = "visitors",
    interval: str = "",
    progress: Progress | None = None,
) -> int:
    """Write the zip into `out`: `<panel>-<tab>.csv` for every panel tab and
    `time-series.csv` (`metric` by `interval`, else the range's default); its CSV data
    rows. `progress` is called after each file."""
    written = rows = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for panel_name, panel in PANELS.items():
            for tab in panel.tabs:
                text, count = tab_csv(site, base, panel_name, tab)
                archive.writestr(f"{panel_name}-{tab}.csv", text)
                written, rows = written + 1, rows + count
                if progress is not None:
                    progress(written, rows)
        found = series(site, base, metric=metric, interval=interval)
        points = list(zip(found["labels"], found["values"], strict=True))
        archive.writestr("time-series.csv", csv_text([("time", metric), *points]))
        written, rows = written + 1, rows + len(points)
        if progress is not None:
            progress(written, rows)
    return rows
