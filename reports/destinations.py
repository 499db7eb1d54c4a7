"""A site's streaming destinations for the settings page: the frontend reaches `events`
through `reports` (the import-linter contract), so the page calls these."""

from __future__ import annotations

from events.destinations.services import (
    TYPES,
    describe_all,
    destination_create,
    destination_delete,
    destination_get,
    destination_update,
)

__all__ = [
    "TYPES",
    "describe_all",
    "destination_create",
    "destination_delete",
    "destination_get",
    "destination_update",
]
