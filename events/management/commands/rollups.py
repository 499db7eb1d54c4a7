"""`rollups rebuild --site DOMAIN | --all`: recompute sites' rollups from their raw rows
(events.rollups.rebuild_site, docs/rollups.md), with a progress bar on stderr when it is a
terminal; `rollups pending` lists the sites whose rollups still lack rows stored before
they existed (the planner reads raw rows for those).

A rebuild runs in this process, a month of days per statement: on a site that is still
receiving events, the current day may be counted twice (docs/rollups.md); run it again
for that day, or while ingest is quiet.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from events.rollups import enabled, pending_sites, rebuild_site
from sites.models import Site


class Command(BaseCommand):
    help = "Rebuild sites' rollups from their raw events, or list the sites waiting for one."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        rebuild = actions.add_parser("rebuild", help="recompute rollups from raw events")
        which = rebuild.add_mutually_exclusive_group(required=True)
        which.add_argument("--site", help="the site's domain")
        which.add_argument("--all", action="store_true", help="every site")
        actions.add_parser("pending", help="sites whose rollups wait for a rebuild")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "pending":
            known = dict(Site.objects.values_list("pk", "domain"))
            for site_id in pending_sites():
                self.stdout.write(known.get(site_id, f"(deleted site {site_id})"))
            return
        if not enabled():
            raise CommandError(
                "rollups are off: set TRAIL_ROLLUPS=on and run `manage.py migrate` (it makes"
                " their views) before rebuilding them (docs/rollups.md)"
            )
        if options["all"]:
            sites = list(Site.objects.order_by("domain"))
        else:
            found = Site.objects.filter(domain=options["site"]).first()
            if found is None:
                raise CommandError(f"--site: no site {options['site']!r}")
            sites = [found]
        for site in sites:
            days = self._rebuild(site)
            self.stdout.write(f"{site.domain}: rollups of {days} days rebuilt")

    def _rebuild(self, site: Site) -> int:
        bar = None
        if sys.stderr.isatty():
            bar = tqdm(total=0, unit="day", desc=f"rollups {site.domain}", file=sys.stderr)

        def progress(done: int, total: int) -> None:
            if bar is not None:
                bar.total = total
                bar.n = done
                bar.refresh()

        try:
            return rebuild_site(site.pk, progress=progress)
        finally:
            if bar is not None:
                bar.close()
