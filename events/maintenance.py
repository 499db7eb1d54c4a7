"""Housekeeping jobs for the events store."""

from __future__ import annotations

import logging
from typing import Any

from events import dispatch
from events.clickhouse import get_client
from events.clickhouse.internal import purge_site
from events.jobs import periodic
from sites.models import Site
from sites.signals import site_deleted

logger = logging.getLogger(__name__)

PURGE_JOB = "events.purge_deleted_sites"


@periodic(every=60, name=PURGE_JOB)
def purge_deleted_sites() -> int:
    """Delete the events of deleted sites, then the sites' rows; sites purged."""
    purged = 0
    for site in Site.objects.filter(deleted_at__isnull=False).order_by("id"):
        purge_site(get_client(), site.id)
        site.delete()
        purged += 1
        logger.info("purged the events of deleted site %s", site.id)
    return purged


def _on_site_deleted(sender: Any, site_id: int, **_: Any) -> None:
    dispatch.trigger(PURGE_JOB)


site_deleted.connect(_on_site_deleted, dispatch_uid="events.purge_on_site_deleted")
