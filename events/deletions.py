"""Deletion on request (GDPR art. 17): the events of one site that match a filter, deleted
by a data job of kind `deletion`, their visits rewritten, an audit entry kept
(docs/deletions.md).

The filter arrives compiled (`Condition`, a boolean expression on `events` with its bound
parameters): the reports' query layer compiles the Stats API's `date_range` and `filters`
as every report does (reports/deletions_api.py), and registers the job kind, since this
layer never imports reports. Here the site guard is added and the work is done:

1. **Note the visits.** The session ids of the matching events go to a scratch table
   named by the site and the job (`deletion_visits_<site>_<job>`), before anything is
   deleted: afterwards nothing says which visits lost events.
2. **Delete the events**: one lightweight `DELETE FROM events WHERE site_id = … AND …`
   (ClickHouse marks the rows deleted at once and drops them at its next merge).
3. **Rewrite the visits.** Every stored version of a noted visit is deleted from
   `sessions`, then each noted visit that still has events is written again from them by
   the collector's rules (`events.sessions.VISIT_FROM_EVENTS`, as raw imports write
   theirs): a visit whose events were all deleted is gone, a visit partly deleted has its
   pageviews, events, bounce, duration, entry and exit page recomputed.
4. **Drop the scratch table**; the audit entry gets the number of events and visits.

Steps 3 and 4 can be repeated without harm. A job killed after step 1 leaves its scratch
table: the job is failed at the next start (`data_jobs.recover`), and the next deletion on
that site (or `repair()`) rewrites the noted visits first, so no visit stays half-corrected.
A job can be cancelled until its DELETE begins; after that it runs to the end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, Organization
from accounts.signals import organization_deleting
from events import data_jobs, rollups
from events.clickhouse import get_client
from events.clickhouse.cluster import refuse_on_cluster
from events.jobs import periodic
from events.models import DataJob, DeletionAudit
from events.rows import ENGAGEMENT
from events.sessions import VISIT_FROM_EVENTS
from sites.models import Site
from sites.services import site_delete

logger = logging.getLogger(__name__)

KIND = "deletion"
_SITE = "{site_id:UInt64}"
_SCRATCH = re.compile(r"^deletion_visits_(?P<site>\d+)_(?P<job>[0-9a-f]{32})$")


@dataclass(frozen=True)
class Condition:
    """A boolean SQL expression on `events` and its parameters, from the query layer. Its
    subqueries are guarded by the builder (they bind `site_id` themselves)."""

    sql: str
    params: Mapping[str, Any]


def _where(site_id: int, condition: Condition) -> tuple[str, dict[str, Any]]:
    params = dict(condition.params)
    if params.setdefault("site_id", site_id) != site_id:
        raise ValueError("a deletion's condition reads another site")
    return f"site_id = {_SITE} AND ({condition.sql})", params


def count(*, site_id: int, condition: Condition) -> int:
    """How many events the condition matches (the preview, and the rows a job deletes)."""
    where, params = _where(site_id, condition)
    found = get_client().query(f"SELECT count() AS n FROM events WHERE {where}", params)  # noqa: S608
    return int(found[0]["n"])


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


# --- creating ---------------------------------------------------------------------------------


def actor_label(actor: Any) -> str:
    """Who asked, as the audit keeps it (a name outlives the key or the account)."""
    if isinstance(actor, ApiKey):
        return f"API key: {actor.name} ({actor.prefix})"
    return f"user: {getattr(actor, 'email', '') or 'unknown'}"


def create(
    *, site: Site, actor: Any, date_range: list[str], filters: list[Any]
) -> tuple[DataJob, DeletionAudit]:
    """A queued deletion job of `site` and its audit entry (`data_jobs.TooManyJobs` when the
    organization has its jobs running). The request was checked and compiled before."""
    with transaction.atomic():
        job = data_jobs.create(
            organization=site.organization,
            site=site,
            kind=KIND,
            parameters={"date_range": date_range, "filters": filters},
            created_by=actor,
        )
        audit = DeletionAudit.objects.create(
            organization=site.organization,
            site=site,
            domain=site.domain,
            job=job,
            user=actor if getattr(actor, "is_authenticated", False) else None,
            api_key=actor if isinstance(actor, ApiKey) else None,
            actor=actor_label(actor),
            date_range=date_range,
            filters=filters,
        )
    return job, audit


# --- running ----------------------------------------------------------------------------------


def scratch_table(site_id: int, job_id: Any) -> str:
    name = f"deletion_visits_{int(site_id)}_{job_id.hex if hasattr(job_id, 'hex') else job_id}"
    if not _SCRATCH.match(name):
        raise ValueError(f"bad scratch table name {name!r}")
    return name


def execute(ctx: data_jobs.JobContext, *, site: Site, condition: Condition) -> None:
    """The `deletion` handler's work (steps 1–4 above), recorded on the job and its audit.
    Not on a sharded cluster yet: the scratch table of the visits to rewrite is one
    server's, and the rewrite would run on every shard."""
    refuse_on_cluster("Deleting events", settings.CLICKHOUSE.cluster)
    job = ctx.job
    audit = DeletionAudit.objects.filter(job=job).first()
    _audit(audit, status=DeletionAudit.Status.RUNNING)
    try:
        repair(site_id=site.pk)  # what an interrupted deletion of this site left
        deleted, visits = _delete(ctx, site=site, condition=condition)
    except data_jobs.Cancelled:
        _audit(audit, status=DeletionAudit.Status.CANCELLED, finished_at=timezone.now())
        raise
    except Exception as exc:
        _audit(
            audit,
            status=DeletionAudit.Status.FAILED,
            error=data_jobs._reason(exc),
            finished_at=timezone.now(),
        )
        raise
    job.rows = deleted
    _audit(
        audit,
        status=DeletionAudit.Status.DONE,
        rows=deleted,
        visits=visits,
        finished_at=timezone.now(),
    )


def _delete(ctx: data_jobs.JobContext, *, site: Site, condition: Condition) -> tuple[int, int]:
    client = get_client()
    where, params = _where(site.pk, condition)
    total = count(site_id=site.pk, condition=condition)
    ctx.progress(0.05, rows=0, force=True)
    if not total:
        return 0, 0
    scratch = scratch_table(site.pk, ctx.job.pk)
    client.command(
        f"CREATE TABLE IF NOT EXISTS {scratch} (session_id UInt64, day Date)"
        " ENGINE = MergeTree ORDER BY (session_id, day)"
    )
    client.command(
        f"INSERT INTO {scratch} SELECT DISTINCT session_id, toDate(timestamp) FROM events"  # noqa: S608
        f" WHERE {where}",
        params,
    )
    ctx.progress(0.2, rows=0, force=True)  # the last point where a cancel stops the job
    began = time.monotonic()
    client.command(f"DELETE FROM events WHERE {where}", params)  # noqa: S608
    logger.info("deletion %s: events deleted in %.1f s", ctx.job.pk, time.monotonic() - began)
    with contextlib.suppress(data_jobs.Cancelled):  # too late: the visits must be rewritten
        ctx.progress(0.7, rows=total, force=True)
    visits = _rewrite_visits(site_id=site.pk, scratch=scratch)
    logger.info("deletion %s on site %s: %s events, %s visits", ctx.job.pk, site.pk, total, visits)
    return total, visits


def _rewrite_visits(*, site_id: int, scratch: str) -> int:
    """Steps 3 and 4: the noted visits rewritten from their remaining events, the rollups
    of the noted days recomputed, the scratch table dropped; the number of visits noted."""
    client = get_client()
    params = {"site_id": site_id}
    noted = f"session_id IN (SELECT session_id FROM {scratch} WHERE session_id != 0)"  # noqa: S608
    [found] = client.query(f"SELECT uniqExactIf(session_id, session_id != 0) AS n FROM {scratch}")  # noqa: S608
    days = [_day(row["day"]) for row in client.query(f"SELECT DISTINCT day FROM {scratch}")]  # noqa: S608
    began = time.monotonic()
    client.command(f"DELETE FROM sessions WHERE site_id = {_SITE} AND {noted}", params)  # noqa: S608
    logger.info("deletion on site %s: visits deleted in %.1f s", site_id, time.monotonic() - began)
    began = time.monotonic()
    names = ", ".join(VISIT_FROM_EVENTS)
    values = ", ".join(VISIT_FROM_EVENTS.values())
    client.command(
        f"INSERT INTO sessions ({names}, import_id)"  # noqa: S608
        f" SELECT {values}, any(import_id) FROM events"
        f" WHERE site_id = {_SITE} AND {noted} AND name != '{ENGAGEMENT}'"
        " GROUP BY site_id, session_id",
        params,
    )
    logger.info("deletion on site %s: visits written in %.1f s", site_id, time.monotonic() - began)
    rollups.rebuild_days(site_id, days)  # views see no DELETE: the days from raw rows again
    client.command(f"DROP TABLE IF EXISTS {scratch}")
    return int(found["n"])


def repair(*, site_id: int | None = None) -> int:
    """Finish what interrupted deletions left (of one site, or all): their noted visits
    rewritten, their scratch tables dropped; how many were finished. Run before each
    deletion of a site, and every ten minutes for all (`repair_interrupted`)."""
    found = get_client().query(
        "SELECT name FROM system.tables WHERE database = currentDatabase()"
        " AND name LIKE 'deletion\\_visits\\_%'"
    )
    finished = 0
    for row in found:
        matched = _SCRATCH.match(str(row["name"]))
        if matched is None or (site_id is not None and int(matched["site"]) != site_id):
            continue
        if DataJob.objects.filter(pk=matched["job"], status=DataJob.Status.RUNNING).exists():
            continue  # its own job is still at work
        _rewrite_visits(site_id=int(matched["site"]), scratch=str(row["name"]))
        finished += 1
    return finished


@periodic(every=600, name="events.deletions.repair")
def repair_interrupted() -> int:
    """What killed deletion jobs left half-done, finished (`repair` for every site)."""
    return repair()


def _audit(audit: DeletionAudit | None, **fields: Any) -> None:
    if audit is not None:
        DeletionAudit.objects.filter(pk=audit.pk).update(**fields)


# --- organizations deleted ----------------------------------------------------------------------


def _on_organization_deleting(sender: Any, organization_id: int, **_: Any) -> None:
    """Its sites are deleted as a person deleting each would (`site_delete`: hidden at once,
    their events, visits and imports purged by the purge job, their jobs with their rows)."""
    for site in Site.objects.filter(organization_id=organization_id, deleted_at__isnull=True):
        site_delete(site=site)


organization_deleting.connect(
    _on_organization_deleting, dispatch_uid="events.deletions.organization_sites"
)


@periodic(every=600, name="events.deletions.drop_organizations")
def drop_deleted_organizations() -> int:
    """The rows of deleted organizations whose sites the purge job has removed; how many."""
    gone = Organization.objects.filter(deleted_at__isnull=False).exclude(
        pk__in=Site.objects.values("organization_id")
    )
    count_, _ = gone.delete()
    return int(count_)
