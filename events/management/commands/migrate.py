"""`migrate`: Django's migrations, then ClickHouse's, after checking every service."""

from typing import Any

from django.core.management.commands.migrate import Command as DjangoMigrate

from common import hooks


class Command(DjangoMigrate):
    help = "Check the configured services, apply Django migrations, then ClickHouse migrations."

    def handle(self, *args: Any, **options: Any) -> None:
        hooks.preflight()
        super().handle(*args, **options)
        if options.get("plan") or options.get("check_unapplied") or options.get("prune"):
            return
        from events.management.commands.clickhouse_migrate import apply

        apply(self.stdout.write if options["verbosity"] >= 1 else None)
