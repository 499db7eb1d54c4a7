"""`import_data --site DOMAIN --source S FILE…`: import files into a site as the API does
(reports/imports/services.py, docs/imports.md "Jobs, API and CLI"), and wait for the end.

The import is a data job like the API's: it runs on the job runner (this process's embedded
runner, or a Celery worker in services mode) while the command follows its progress, with a
progress bar on stderr when it is a terminal. It exits non-zero when the import fails,
printing the reason (file, line, column); Ctrl-C cancels the import (nothing of it stays).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from accounts.errors import ServiceError
from events import data_jobs
from events.models import DataJob
from reports.imports import services
from reports.management.commands.export_events import _site

POLL = 0.5  # seconds between looks at the job


class Command(BaseCommand):
    help = "Import files (Trail, GA4, Umami, Plausible exports) into a site."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--site", required=True, help="the site's domain")
        parser.add_argument(
            "--source", required=True, help=f"what the files are: {', '.join(services.SOURCES)}"
        )
        parser.add_argument("files", nargs="+", help="the files to import")

    def handle(self, *args: Any, **options: Any) -> None:
        site = _site(options["site"])
        uploads = []
        for name in options["files"]:
            path = Path(name)
            if not path.is_file():
                raise CommandError(f"{name}: no such file")
            uploads.append((path.name, path))
        try:
            job = services.import_start(
                site=site, source=options["source"], uploads=uploads, actor=None
            )
        except ServiceError as exc:
            raise CommandError(
                f"--{exc.field}: {exc.message}" if exc.field else exc.message
            ) from None
        except data_jobs.TooManyJobs:
            raise CommandError(
                "too many jobs of this organization are running; try again later"
            ) from None
        job = self._follow(job)
        if job.status != DataJob.Status.DONE:
            raise CommandError(f"import {job.pk} {job.status}: {job.error or 'no reason given'}")
        described = services.describe(job)
        days = (
            f", {described['first_day']} to {described['last_day']}"
            if described["first_day"]
            else ""
        )
        self.stdout.write(f"import {job.pk}: {job.rows} rows imported into {site.domain}{days}")

    def _follow(self, job: DataJob) -> DataJob:
        bar = None
        if sys.stderr.isatty():
            bar = tqdm(total=100, unit="%", desc=f"import {options_source(job)}", file=sys.stderr)
        try:
            while True:
                job.refresh_from_db()
                if bar is not None:
                    bar.n = round(job.progress * 100, 1)
                    bar.set_postfix(rows=job.rows, refresh=False)
                    bar.refresh()
                if not job.is_active:
                    return job
                time.sleep(POLL)
        except KeyboardInterrupt:
            services.import_delete(job=job)
            raise CommandError(f"import {job.pk} cancelled: nothing of it was kept") from None
        finally:
            if bar is not None:
                bar.close()


def options_source(job: DataJob) -> str:
    return str(job.parameters.get("source", ""))
