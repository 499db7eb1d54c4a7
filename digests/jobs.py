"""The sending job: every 10 minutes (Celery beat in services mode, the job thread in
embedded mode, through the one registry `events.jobs`), mail the reports that are due."""

from __future__ import annotations

from digests.services import send_due
from events.jobs import periodic

EVERY = 600.0  # seconds: a report leaves within 10 minutes of SEND_HOUR
SEND_JOB = "digests.send_due"


@periodic(EVERY, name=SEND_JOB, outbound=True)
def send_due_reports() -> int:
    return send_due()
