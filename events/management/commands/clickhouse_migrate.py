"""`clickhouse_migrate`: apply the ClickHouse schema migrations not yet applied.

Safe from several processes at once (several containers or deploy scripts may each run
`migrate`): one holds the migration lock (`events.locks.held`: a Redis lease in
services mode, this process's lock embedded, where chDB admits one process anyway), the
others wait for it, then read the ledger again and find nothing left to do. Without it two
processes could both run 0007's `DROP TABLE …; RENAME TABLE …`, which is not idempotent.
"""

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from common import hooks
from events import locks, rollups
from events.clickhouse import get_client
from events.clickhouse.migrate import migrate

LOCK = "trail:clickhouse-migrate"
LEASE = 900.0  # seconds; renewed after every statement
WAIT = 3600.0  # the longest another process's migrations are waited for


def apply(log: Callable[[str], Any] | None) -> None:
    deadline = time.monotonic() + WAIT
    waited = False
    while True:
        with locks.held(LOCK, LEASE) as renew:
            if renew is not None:
                applied = migrate(
                    get_client(),
                    cluster=settings.CLICKHOUSE.cluster,
                    log=log or (lambda _: None),
                    renew=renew,
                )
                rollups.sync_views(log)
                break
        if time.monotonic() > deadline:
            raise RuntimeError(f"ClickHouse migrations: {LOCK} still held after {WAIT:.0f} s")
        if log and not waited:
            log("ClickHouse: another process is migrating; waiting")
        waited = True
        time.sleep(0.5)
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
