"""What the dashboard's job pages share (exports, imports): a job's row as its template
shows it (polled every second while it runs, a progress bar), and the message when the
organization already has its running jobs."""

from __future__ import annotations

from typing import Any

from reports.export_jobs import MAX_ACTIVE_PER_ORGANIZATION, DataJob


def job_row(job: DataJob, described: dict[str, Any], url: str) -> dict[str, Any]:
    """`described` (the job as its API describes it) with what `_job_progress.html` and a
    row's polling need: `active` (queued or running: poll `url`), `percent`, `url`."""
    return {**described, "active": job.is_active, "percent": round(100 * job.progress), "url": url}


def too_many_message(what: str) -> str:
    """The refusal when the organization has MAX_ACTIVE_PER_ORGANIZATION jobs running."""
    return (
        f"{MAX_ACTIVE_PER_ORGANIZATION} {what} of your organization are already"
        " running: start this one when one has finished."
    )
