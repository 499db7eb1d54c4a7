"""Whether a site has imported daily aggregates (Plausible's CSV export,
docs/imports-plausible.md) for reports to add: a completed `plausible_csv` import, a
database query (no ClickHouse). The dashboard asks it to show its "Include imported data"
switch and to ask the Stats API with `include.imports` only then, so that a site without
imports reads exactly what it read before; `reports.context` asks it before looking for
the first imported day.

`KIND` is `reports.imports.services`' job kind, spelled out rather than imported: that
module calls `reports.context`, which needs this one (a test checks that they agree)."""

from __future__ import annotations

from events.models import DataJob
from sites.models import Site

KIND = "import.plausible_csv"


def has_imported_aggregates(*, site: Site) -> bool:
    """Whether one of the site's Plausible imports is done (a deleted one is gone, a
    running one is not visible yet)."""
    return DataJob.objects.filter(site=site, kind=KIND, status=DataJob.Status.DONE).exists()
