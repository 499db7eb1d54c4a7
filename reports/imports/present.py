"""Whether a site has imported daily aggregates (Plausible's CSV export,
docs/imports-plausible.md) for reports to add: a completed `plausible_csv` import. The
dashboard asks this (a database query, no ClickHouse) to show its "Include imported data"
switch and to ask the Stats API with `include.imports` only then, so that a site without
imports reads exactly what it read before."""

from __future__ import annotations

from events.models import DataJob
from reports.imports.services import KIND_PREFIX
from sites.models import Site

KIND = f"{KIND_PREFIX}plausible_csv"


def has_imported_aggregates(*, site: Site) -> bool:
    """Whether one of the site's Plausible imports is done (a deleted one is gone, a
    running one is not visible yet)."""
    return DataJob.objects.filter(site=site, kind=KIND, status=DataJob.Status.DONE).exists()
