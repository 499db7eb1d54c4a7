"""Import jobs: a site's history brought in from files (docs/imports.md, "Jobs, API and CLI").

An import is a data job (`events.data_jobs`) of kind `import.<source>`:

    job = import_start(site=site, source="trail", uploads=[("x.ndjson", path)], actor=user)
    describe(job)      # status, progress, rows, first/last day, files, error, times
    import_delete(job=job)  # cancels a running one; removes exactly its data

The files (already on disk: the API streams uploads into `var/imports/`) are linked (or
copied) into the job's own directory under `var/imports/`, and deleted when the job ends.
A file whose sha256 an earlier import of the site (queued, running or done) already has is
refused, naming that import.

Sources plug in with `register_source(name, handler)`: a *raw* source's handler is a
parser `(path, name) -> Iterable[RawEvent]` (reports/imports/rows.py), run through
`reports.imports.raw` (staging, publishing, visits); a source that writes rows of its own
(Plausible's aggregates) registers `raw=False` with `handler(run: ImportRun)` and a
`delete(site_id, import_id)` that removes what it wrote.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.errors import NotFound, ServiceError
from events import data_jobs
from events.clickhouse.errors import ClickHouseError
from events.jobs import periodic
from events.models import DataJob
from reports.context import forget_first_day
from reports.imports import raw
from reports.imports.rows import BadImportFile, RawEvent
from sites.models import Site
from sites.selectors import site_get_for_actor
from sites.signals import site_deleted

logger = logging.getLogger(__name__)

SOURCES = ("plausible_csv", "ga4", "umami", "trail")
KIND_PREFIX = "import."
MAX_FILES = 50  # files one import may hold
ESTIMATED_BYTES_PER_ROW = {"parquet": 40}  # progress within a file: rows read x this / size
DEFAULT_BYTES_PER_ROW = 250
Status = DataJob.Status

Parser = Callable[[Path, str], Iterable[RawEvent]]


@dataclass(frozen=True)
class ImportRun:
    """What a non-raw source's handler gets: the job's context, the site, its files."""

    ctx: data_jobs.JobContext
    site: Site
    import_id: str
    files: list[tuple[str, Path]]


@dataclass(frozen=True)
class Source:
    name: str
    handler: Callable[..., Any]
    raw: bool = True
    delete: Callable[[int, str], None] | None = None
    # A raw source's fast way: `load(path, name, site_id=, import_id=)` stages a whole file
    # without rows through Python; when ClickHouse refuses it, the parser reads it again.
    load: Callable[..., None] | None = None


_sources: dict[str, Source] = {}


def register_source(
    name: str,
    handler: Callable[..., Any],
    *,
    raw: bool = True,  # noqa: FBT001 (keyword only)
    delete: Callable[[int, str], None] | None = None,
    load: Callable[..., None] | None = None,
) -> None:
    """Make `name` importable (see the module docstring); registers its job kind too."""
    _sources[name] = Source(name=name, handler=handler, raw=raw, delete=delete, load=load)
    data_jobs.register(KIND_PREFIX + name, run)


def kinds() -> list[str]:
    return [KIND_PREFIX + name for name in SOURCES]


def imports_dir() -> Path:
    return Path(settings.TRAIL.var_dir) / "imports"


def upload_dir() -> Path:
    """Where the API's upload handlers stream files (deleted once the request ends)."""
    path = imports_dir() / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def max_bytes() -> int:
    return int(settings.TRAIL.import_max_bytes)


# --- starting --------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _safe_name(name: str) -> str:
    base = os.path.basename(name.replace("\\", "/")).strip() or "file"
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in base)[:120]


def import_start(
    *,
    site: Site,
    source: str,
    uploads: list[tuple[str, Path]],
    actor: Any,
    digests: dict[Path, str] | None = None,
) -> DataJob:
    """Queue an import of `uploads` ((name, path on disk)) into `site`. `ServiceError`
    naming the field on bad input, `data_jobs.TooManyJobs` when the organization has enough
    jobs running. `digests`: the sha256 of files already known (the API's upload handler
    hashes a file as it writes it), by path."""
    if not isinstance(source, str) or source not in SOURCES:
        raise ServiceError(f"expected one of {', '.join(SOURCES)}", field="source")
    if not uploads:
        raise ServiceError("at least one file is required", field="file")
    if len(uploads) > MAX_FILES:
        raise ServiceError(f"at most {MAX_FILES} files in one import", field="file")
    total = sum(path.stat().st_size for _, path in uploads)
    if total > max_bytes():
        raise ServiceError(
            f"{total} bytes, over this Trail's limit of {max_bytes()} (TRAIL_IMPORT_MAX_BYTES)",
            field="file",
        )
    files = []
    for name, path in uploads:
        if path.stat().st_size == 0:
            raise ServiceError(f"{_safe_name(name)} is empty", field="file")
        digest = (digests or {}).get(path) or _sha256(path)
        files.append({"name": _safe_name(name), "sha256": digest, "bytes": path.stat().st_size})
    _refuse_repeats(site, files)
    directory = imports_dir() / uuid.uuid4().hex
    directory.mkdir(parents=True)
    try:
        for number, ((_, path), described) in enumerate(zip(uploads, files, strict=True)):
            stored = directory / f"{number:03d}-{described['name']}"
            _link_or_copy(path, stored)
            described["path"] = stored.name
        with transaction.atomic():
            return data_jobs.create(
                organization=site.organization,
                site=site,
                kind=KIND_PREFIX + source,
                parameters={"source": source, "directory": directory.name, "files": files},
                created_by=actor,
            )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _refuse_repeats(site: Site, files: list[dict[str, Any]]) -> None:
    """The same file (sha256) twice is refused, naming the earlier import."""
    wanted = {f["sha256"]: f["name"] for f in files}
    if len(wanted) < len(files):
        raise ServiceError("the same file is given twice", field="file")
    earlier = DataJob.objects.filter(
        site=site,
        kind__in=kinds(),
        status__in=(Status.QUEUED, Status.RUNNING, Status.DONE),
    ).order_by("created_at")
    for job in earlier:
        for described in job.parameters.get("files") or []:
            if described.get("sha256") in wanted:
                raise ServiceError(
                    f"{wanted[described['sha256']]} was already imported by import {job.pk}"
                    f" ({described.get('name')}, {job.created_at:%Y-%m-%d}); delete that"
                    " import first to import it again",
                    field="file",
                )


# --- running ---------------------------------------------------------------------------------


def _files(job: DataJob) -> list[tuple[str, Path]]:
    directory = imports_dir() / str(job.parameters.get("directory", ""))
    return [(f["name"], directory / f["path"]) for f in job.parameters.get("files") or []]


def run(ctx: data_jobs.JobContext) -> None:
    """Every import kind's handler: the source's parser through the raw pipeline (or the
    source's own handler); on any failure or cancel, what it wrote is removed."""
    job = ctx.job
    site = job.site
    import_id = str(job.pk)
    source_name = str(job.parameters.get("source", ""))
    try:
        if site is None or site.deleted_at is not None:
            raise LookupError("the site of this import was deleted")
        source = _sources.get(source_name)
        if source is None:
            raise LookupError(f"this Trail cannot read {source_name} files yet")
        files = _files(job)
        if source.raw:
            _run_raw(ctx, site, import_id, source, files)
        else:
            source.handler(ImportRun(ctx=ctx, site=site, import_id=import_id, files=files))
        ctx.progress(1.0, rows=job.rows, force=True)  # Cancelled when cancelled meanwhile
        forget_first_day(site.pk)  # the import may hold older days than the site had
    except BaseException:
        if site is not None:
            _purge(site.pk, import_id, source_name)
        raise
    finally:
        _remove_files(job)


def _run_raw(
    ctx: data_jobs.JobContext,
    site: Site,
    import_id: str,
    source: Source,
    files: list[tuple[str, Path]],
) -> None:
    raw.prepare(import_id)  # its staging table, there even if no file has a row
    sizes = [max(path.stat().st_size, 1) for _, path in files]
    total = sum(sizes)
    done_bytes = 0
    for (name, path), size, described in zip(
        files, sizes, ctx.job.parameters["files"], strict=True
    ):
        loaded = source.load is not None and _loaded(source.load, path, name, site, import_id)
        if not loaded:
            position = (done_bytes, size, total, raw.staged(import_id))
            _parse_and_stage(ctx, site, import_id, source, (name, path), described, position)
        done_bytes += size
        ctx.progress(0.9 * done_bytes / total, force=True)  # Cancelled when cancelled
    published = raw.publish(site_id=site.pk, import_id=import_id)
    first, last = raw.days(site_id=site.pk, import_id=import_id)
    parameters = {**ctx.job.parameters, "first_day": first, "last_day": last}
    DataJob.objects.filter(pk=ctx.job.pk).update(parameters=parameters)
    ctx.job.parameters = parameters
    ctx.job.rows = published


def _loaded(load: Callable[..., None], path: Path, name: str, site: Site, import_id: str) -> bool:
    """Whether the source's fast way staged the file; False when ClickHouse refused a row
    (the parser then reads the file, names the bad line, or takes it: events whose id was
    staged twice are published once)."""
    try:
        load(path, name, site_id=site.pk, import_id=import_id)
    except ClickHouseError as exc:
        logger.info("import %s: %s read again row by row (%s)", import_id, name, exc)
        return False
    return True


def _parse_and_stage(
    ctx: data_jobs.JobContext,
    site: Site,
    import_id: str,
    source: Source,
    file: tuple[str, Path],
    described: dict[str, Any],
    position: tuple[int, int, int, int],
) -> None:
    """The file's events through the source's parser and `raw.Rows`, staged in blocks;
    progress within the file estimated from the rows read."""
    name, path = file
    done_bytes, size, total, before = position
    rows = raw.Rows(site_id=site.pk, file_name=name, file_sha256=described["sha256"])
    per_row = ESTIMATED_BYTES_PER_ROW.get(
        Path(name).suffix.lstrip(".").lower(), DEFAULT_BYTES_PER_ROW
    )
    block = []
    in_file = 0
    for event in source.handler(path, name):
        block.append(rows.row(event))
        in_file += 1
        if len(block) >= raw.BLOCK:
            raw.stage(import_id, block)
            block = []
            within = min(in_file * per_row, size * 0.99)
            ctx.progress(0.9 * (done_bytes + within) / total, rows=before + in_file)
    raw.stage(import_id, block)


def _remove_files(job: DataJob) -> None:
    directory = str(job.parameters.get("directory", ""))
    if directory:
        shutil.rmtree(imports_dir() / directory, ignore_errors=True)


def _purge(site_id: int, import_id: str, source_name: str) -> None:
    source = _sources.get(source_name)
    forget_first_day(site_id)  # its days may have been the first
    try:
        if source is not None and source.delete is not None:
            source.delete(site_id, import_id)
        raw.purge(site_id=site_id, import_id=import_id)
    except Exception:
        logger.exception("import %s: its rows could not be removed", import_id)
        raise


# --- reading and deleting --------------------------------------------------------------------


def imports_for_site(*, site: Site, limit: int = 20) -> list[DataJob]:
    """A site's latest imports, newest first."""
    return list(DataJob.objects.filter(site=site, kind__in=kinds()).order_by("-created_at")[:limit])


def import_get_for_actor(*, actor: Any, import_id: object, write: bool = False) -> DataJob:
    """An import the actor may see; anything else (another tenant's, malformed, another kind
    of job) is `NotFound`, the same for all. `write`: a signed-in viewer is `Forbidden`."""
    try:
        pk = uuid.UUID(str(import_id))
    except ValueError:
        raise NotFound("import") from None
    job = (
        DataJob.objects.filter(pk=pk, kind__in=kinds(), site__isnull=False)
        .select_related("site", "organization")
        .first()
    )
    if job is None or job.site is None:
        raise NotFound("import")
    site_get_for_actor(actor=actor, domain=job.site.domain, write=write)  # another tenant's: 404
    if job.site.organization_id != job.organization_id:
        raise NotFound("import")
    return job


def import_delete(*, job: DataJob) -> None:
    """Cancel a queued or running import (its rows are removed as it stops; the job stays,
    `cancelled`), or remove a finished one's data and the job itself."""
    site_id = job.site_id
    _remove_files(job)
    if data_jobs.cancel(job):
        if site_id is not None:  # in case the runner already stopped
            _purge(site_id, str(job.pk), str(job.parameters.get("source", "")))
        return
    if site_id is not None:
        _purge(site_id, str(job.pk), str(job.parameters.get("source", "")))
    data_jobs.remove(job)


@periodic(every=600, name="reports.imports.sweep")
def sweep() -> int:
    """Remove the rows of imports that will never complete: a job failed by a crash
    (`data_jobs.recover`, a lost worker), or gone. Running, queued and done imports are
    left alone. The number of imports swept.

    What ClickHouse holds is listed first and the jobs' statuses read after: an import
    whose rows or staging table are listed was created before the listing, so its status
    read then is current (read before, an import started meanwhile would be taken for
    an abandoned one and its staging removed under it)."""
    _sweep_files()
    tables = raw.staging_tables()
    found = raw.import_ids()
    wanted = {import_id for _, import_id in found} | {
        import_id for table in tables if (import_id := raw.import_of(table))
    }
    live = {
        str(pk)
        for pk in DataJob.objects.filter(
            pk__in=[i for i in wanted if _is_uuid(i)],
            kind__in=kinds(),
            status__in=(*DataJob.ACTIVE, Status.DONE),
        ).values_list("pk", flat=True)
    }
    swept = 0
    for site_id, import_id in found:
        if import_id in live:
            continue
        job = DataJob.objects.filter(pk=import_id).first() if _is_uuid(import_id) else None
        _purge(site_id, import_id, str(job.parameters.get("source", "")) if job else "")
        swept += 1
    # Staging tables of imports that ended without rows (a crash before the first row).
    raw.drop_staging_tables([t for t in tables if raw.import_of(t) not in live])
    return swept


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _sweep_files() -> None:
    """Delete the file directories no queued or running import needs (a crash's leftovers),
    once an hour old (a directory younger may belong to an import being created)."""
    root = imports_dir()
    if not root.is_dir():
        return
    needed = {
        str(job.parameters.get("directory", ""))
        for job in DataJob.objects.filter(kind__in=kinds(), status__in=DataJob.ACTIVE)
    }
    cutoff = time.time() - 3600
    for entry in root.iterdir():
        if entry.name in ("uploads", *needed) or not entry.is_dir():
            continue
        if entry.stat().st_mtime < cutoff:
            shutil.rmtree(entry, ignore_errors=True)


def describe(job: DataJob) -> dict[str, Any]:
    """An import as the API, the dashboard and the CLI show it."""
    parameters = job.parameters or {}
    return {
        "id": str(job.pk),
        "source": parameters.get("source"),
        "status": job.status,
        "progress": round(job.progress, 4),
        "rows": job.rows,
        "first_day": parameters.get("first_day"),
        "last_day": parameters.get("last_day"),
        "files": [
            {"name": f.get("name"), "bytes": f.get("bytes"), "sha256": f.get("sha256")}
            for f in parameters.get("files") or []
        ],
        "error": job.error or None,
        "created_at": _iso(job.created_at),
        "finished_at": _iso(job.finished_at),
    }


def _iso(moment: Any) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _on_site_deleted(sender: Any, site_id: int, **_: Any) -> None:
    """A deleted site's imports go with it: running ones are cancelled, and every one's
    rows (imported tables, staging, published events) and files are removed."""
    for job in DataJob.objects.filter(site_id=site_id, kind__in=kinds()):
        try:
            import_delete(job=job)
        except Exception:  # the sweep removes what is left of an import that ended
            logger.exception("import %s of deleted site %s: not removed", job.pk, site_id)


def register() -> None:
    """At app ready: every source's parser and job kind; a deleted site's imports removed."""
    from reports.imports import ga4, plausible, trail, trail_load, umami

    register_source("trail", trail.parse, load=trail_load.load)
    register_source("ga4", ga4.events)
    register_source("umami", umami.events)
    register_source("plausible_csv", plausible.handle, raw=False, delete=plausible.delete)
    site_deleted.connect(_on_site_deleted, dispatch_uid="reports.imports.on_site_deleted")


__all__ = ["BadImportFile", "ImportRun", "import_delete", "import_get_for_actor", "import_start"]
