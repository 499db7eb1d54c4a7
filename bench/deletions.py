"""Deletion on request measured: about 1 M matching events deleted from a 10 M-event site,
through the production job (reports/deletions_api.py → events/deletions.py), in process.

    .venv/bin/python bench/report_data.py --var DIR --events 10000000   # or a copy of one
    .venv/bin/python bench/deletions.py --var DIR [--target 1000000]

The var dir is changed (its events are deleted): use a copy. The filter is the site's most
visited pages, chosen to match about --target events
(`["is", "event:page", [...]]`): a page's events are spread over most visits, so every
step is exercised — the visits noted, the lightweight DELETE, the visits rewritten from
their remaining events. Printed: the preview's count and seconds, the job's seconds from
queued to done (what the issue's figure is about: 1 M of 100 M <= 60 s), events before
and after, and the visits rewritten.
"""

from __future__ import annotations

import argparse
import time

import _setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--var", required=True, help="Trail var dir (a copy: it is changed)")
    parser.add_argument("--target", type=int, default=1_000_000, help="events to match")
    parser.add_argument("--site-domain", default="bench.example.com")
    args = parser.parse_args()
    _setup.django(args.var)
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    logging.getLogger("events.deletions").setLevel(logging.INFO)

    from events.clickhouse import get_client
    from events.models import DataJob, DeletionAudit
    from reports import deletions_api
    from sites.models import Site

    site = Site.objects.get(domain=args.site_domain, deleted_at__isnull=True)
    owner = site.organization.memberships.filter(role="owner").first()
    actor = owner.user if owner is not None else None
    client = get_client()
    params = {"site": site.pk}
    total = int(
        client.query("SELECT count() AS n FROM events WHERE site_id = {site:UInt64}", params)[0][
            "n"
        ]
    )
    pages, matched = [], 0
    for row in client.query(
        "SELECT pathname, count() AS n FROM events WHERE site_id = {site:UInt64}"
        " GROUP BY pathname ORDER BY n DESC LIMIT 50",
        params,
    ):
        if matched + int(row["n"]) <= args.target * 1.05:  # about --target, not far over
            pages.append(str(row["pathname"]))
            matched += int(row["n"])
    body = {"date_range": "all", "filters": [["is", "event:page", pages]]}
    print(f"site {site.domain} (id {site.pk}): {total:,} events; filter {body['filters']}")

    began = time.perf_counter()
    previewed = deletions_api.preview(site, **{"date_range": "all", "filters": body["filters"]})
    print(f"preview: {previewed:,} events in {time.perf_counter() - began:.2f} s")

    began = time.perf_counter()
    job = deletions_api.start(site, actor=actor, date_range="all", filters=body["filters"])
    # queued; the embedded runner's thread takes it once created (as in service)
    while DataJob.objects.filter(pk=job.pk, status__in=DataJob.ACTIVE).exists():
        time.sleep(0.05)
    status = DataJob.objects.get(pk=job.pk).status
    seconds = time.perf_counter() - began
    audit = DeletionAudit.objects.get(job=job)
    after = int(
        client.query("SELECT count() AS n FROM events WHERE site_id = {site:UInt64}", params)[0][
            "n"
        ]
    )
    print(
        f"deletion: {status}, {audit.rows:,} events deleted, {audit.visits:,} visits rewritten,"
        f" in {seconds:.1f} s; events {total:,} -> {after:,}"
    )
    assert audit.rows == previewed == total - after, (audit.rows, previewed, total - after)


if __name__ == "__main__":
    main()
