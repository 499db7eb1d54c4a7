"""`clickhouse_migrate`: apply the ClickHouse schema migrations not yet applied."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from common import hooks
from events import rollups
from events.clickhouse import get_client
from events.clickhouse.migrate import migrate


def apply(log: Callable[[str], Any] | None) -> None:
    applied = migrate(
        get_client(), cluster=settings.CLICKHOUSE.cluster, log=log or (lambda _: None)
    )
    rollups.sync_views(log)
    if log:
        log(
            f"ClickHouse: {len(applied)} migration(s) applied"
            if applied
            else "ClickHouse: up to date"
        )


class Command(BaseCommand):
    help = "Apply the ClickHouse schema migrations (also run by `migrate`)."

    def handle(self, *args: Any, **options: Any) -> None:
        hooks.preflight("clickhouse")
        apply(self.stdout.write if options["verbosity"] >= 1 else None)
