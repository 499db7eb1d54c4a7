"""Deletion on request (reports/deletions_api.py, events/deletions.py) on real chDB and the
real database. The hidden truth: a twin site is sent the same traffic without the events a
deletion removes; after the deletion the Stats API answers the same for both (visitors,
visits, pageviews, bounce rate, duration, entry and exit pages), so the counts dropped by
exactly the deleted events and the visits were rewritten by the collector's rules."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts.models import Role
from events import data_jobs, deletions
from events.clickhouse import get_client
from events.models import DataJob, DeletionAudit
from reports.stats import answer
from sites.models import Site
from tests import factories
from tests.reports.conftest import hit

pytestmark = pytest.mark.django_db

DAY = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0) - dt.timedelta(
    days=3
)
RANGE = [
    (DAY - dt.timedelta(days=1)).date().isoformat(),
    (DAY + dt.timedelta(days=1)).date().isoformat(),
]
WIDE = [
    (DAY - dt.timedelta(days=10)).date().isoformat(),
    (DAY + dt.timedelta(days=3)).date().isoformat(),
]
MIN = dt.timedelta(minutes=1)
METRICS = ["visitors", "visits", "pageviews", "events", "bounce_rate", "visit_duration"]


def traffic(site: Site) -> list[tuple[str, dict[str, Any]]]:
    """(tag, event): the tags say what each deletion below removes."""
    user = {"user_id": "123"}
    return [
        # visitor A: a visit of three pageviews and a signup carrying user_id=123
        ("a", hit(site, DAY, "/", ip="192.0.2.10", referrer="https://www.google.com/")),
        ("a", hit(site, DAY + MIN, "/pricing", ip="192.0.2.10")),
        (
            "a user",
            hit(site, DAY + 2 * MIN, "/pricing", name="Signup", ip="192.0.2.10", props=user),
        ),
        ("a", hit(site, DAY + 3 * MIN, "/x", ip="192.0.2.10")),
        # visitor B: a visit of two pageviews, one of /x
        ("b", hit(site, DAY + 5 * MIN, "/x", ip="192.0.2.11")),
        ("b", hit(site, DAY + 6 * MIN, "/blog", ip="192.0.2.11")),
        # visitor C: every event carries user_id=123 (a whole visit goes)
        ("c user", hit(site, DAY + 7 * MIN, "/", ip="192.0.2.12", props=user)),
        ("c user", hit(site, DAY + 8 * MIN, "/about", ip="192.0.2.12", props=user)),
        # visitor D, five days earlier
        ("d old", hit(site, DAY - dt.timedelta(days=5), "/", ip="192.0.2.13")),
        ("d old", hit(site, DAY - dt.timedelta(days=5) + MIN, "/x", ip="192.0.2.13")),
    ]


def events(site: Site, *, without: str = "", page: str = "") -> list[dict[str, Any]]:
    kept = []
    for tag, event in traffic(site):
        if without and without in tag.split():
            continue
        if page and event["url"].endswith(page) and event["name"] == "pageview":
            continue
        kept.append(event)
    return kept


@pytest.fixture
def pair(
    make_site: Callable[..., Site], seed: Callable[..., None]
) -> Callable[..., tuple[Site, Site]]:
    """A site with all the traffic and its twin without what a deletion removes."""

    def make(*, without: str = "", page: str = "") -> tuple[Site, Site]:
        site = make_site("deletions.example.com")
        twin = make_site("deletions-twin.example.com")
        neighbour = make_site("deletions-neighbour.example.com")
        seed(site, events(site))
        seed(twin, events(twin, without=without, page=page))
        seed(neighbour, events(neighbour))
        return site, twin

    return make


def api(site: Site, scopes: tuple[str, ...] = ("sites:manage",)) -> Client:
    _, key = factories.api_key(site.organization, scopes=scopes)
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def post(client: Client, domain: str, body: Any, raw: bytes | None = None) -> Any:
    return client.post(
        f"/api/v1/sites/{domain}/deletions",
        data=raw if raw is not None else json.dumps(body),
        content_type="application/json",
    )


def stats(site: Site, date_range: list[str] = WIDE, **extra: Any) -> Any:
    body = {"site_id": site.domain, "metrics": METRICS, "date_range": date_range, **extra}
    return answer(site=site, body=body)["results"]


def report(site: Site) -> dict[str, Any]:
    """What the twin must equal: totals, and entry/exit pages with their visits."""
    return {
        "totals": stats(site),
        "entry": stats(site, dimensions=["visit:entry_page"]),
        "exit": stats(site, dimensions=["visit:exit_page"]),
        "pages": answer(
            site=site,
            body={
                "site_id": site.domain,
                "metrics": ["visitors", "pageviews"],
                "date_range": WIDE,
                "dimensions": ["event:page"],
            },
        )["results"],
    }


def delete(client: Client, site: Site, body: dict[str, Any]) -> dict[str, Any]:
    """Preview, then delete through the job; the job's JSON. The preview equals the rows."""
    previewed = post(client, site.domain, {**body, "preview": True})
    assert previewed.status_code == 200, previewed.content
    created = post(client, site.domain, body)
    assert created.status_code == 202, created.content
    assert created.json()["status"] == "queued"
    data_jobs.run(created.json()["id"])
    job = client.get(f"/api/v1/deletions/{created.json()['id']}")
    assert job.status_code == 200, job.content
    found = job.json()
    assert found["status"] == "done", found
    assert found["rows"] == previewed.json()["rows"]
    return found


@pytest.mark.parametrize(
    ("body", "without", "page", "rows"),
    [
        ({"date_range": "all", "filters": [["is", "event:props:user_id", ["123"]]]}, "user", "", 3),
        ({"date_range": "all", "filters": [["is", "event:page", ["/x"]]]}, "", "/x", 3),
        (
            {"date_range": WIDE[:1] + [(DAY - dt.timedelta(days=2)).date().isoformat()]},
            "old",
            "",
            2,
        ),
    ],
    ids=["property", "page", "date range"],
)
def test_a_deletion_removes_exactly_its_events_and_the_visits_follow(
    pair: Callable[..., tuple[Site, Site]],
    body: dict[str, Any],
    without: str,
    page: str,
    rows: int,
) -> None:
    site, twin = pair(without=without, page=page)
    neighbour = Site.objects.get(domain="deletions-neighbour.example.com")
    neighbour_before = report(neighbour)
    before = stats(site)[0]["metrics"]
    job = delete(api(site), site, body)
    assert job["rows"] == rows
    assert report(site) == report(twin)
    after = stats(site)[0]["metrics"]
    assert before[3] - after[3] == rows  # events dropped by exactly the deleted ones
    assert report(neighbour) == neighbour_before  # another site untouched
    audit = DeletionAudit.objects.get(job_id=job["id"])
    assert (audit.rows, audit.status, audit.domain) == (rows, "done", site.domain)
    assert audit.actor.startswith("API key: ")
    assert audit.filters == body.get("filters", [])


def test_visits_of_deleted_events_sum_to_the_twins_in_clickhouse(
    pair: Callable[..., tuple[Site, Site]],
) -> None:
    site, twin = pair(without="user")
    delete(
        api(site), site, {"date_range": "all", "filters": [["is", "event:props:user_id", ["123"]]]}
    )
    query = (
        "SELECT sum(sign) AS visits, sum(sign * pageviews) AS pageviews, sum(sign * events) AS n,"
        " sum(sign * is_bounce) AS bounces FROM sessions WHERE site_id = {s:UInt64}"
    )
    mine = get_client().query(query, {"s": site.pk})
    theirs = get_client().query(query, {"s": twin.pk})
    assert mine == theirs
    assert mine[0]["visits"] == 3  # A's and B's visits, D's; C's whole visit is gone
    assert not get_client().query(
        "SELECT name FROM system.tables WHERE name LIKE 'deletion_visits_%'"
        " AND database = currentDatabase()"
    )


def test_deleting_everything_needs_all_true(pair: Callable[..., tuple[Site, Site]]) -> None:
    site, _ = pair()
    client = api(site)
    refused = post(client, site.domain, {"date_range": "all", "preview": True})
    assert refused.status_code == 400
    assert refused.json()["error"].startswith("all: this would delete every event")
    assert post(client, site.domain, {"date_range": "all", "filters": []}).status_code == 400
    counted = post(client, site.domain, {"date_range": "all", "all": True, "preview": True})
    assert counted.json() == {"rows": 10}
    delete(client, site, {"date_range": "all", "all": True})
    assert stats(site)[0]["metrics"][:4] == [0, 0, 0, 0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filters": []}, "date_range"),
        ({"date_range": "all", "filters": [["is", "event:nonsense", ["x"]]]}, "filters"),
        ({"date_range": "all", "filters": "not a list"}, "filters"),
        ({"date_range": "lately", "filters": [["is", "event:page", ["/"]]]}, "date_range"),
        ({"date_range": "all", "filters": [["is", "event:page", ["/\u0000"]]]}, "filters"),
        ({"date_range": "all", "all": "yes"}, "all"),
        ({"date_range": "all", "preview": "yes"}, "preview"),
        ({"date_range": "all", "drop": True}, "drop"),
        ({"date_range": "all", "filters": [["is", "event:page", ["/"]]] * 21}, "filters"),
    ],
)
def test_bad_input_is_400_naming_the_field(
    make_site: Callable[..., Site], body: dict[str, Any], field: str
) -> None:
    site = make_site("deletions-bad.example.com")
    answer_ = post(api(site), site.domain, body)
    assert answer_.status_code == 400, answer_.content
    assert answer_.json()["error"].startswith(field), answer_.json()
    assert not DataJob.objects.filter(kind=deletions.KIND).exists()


def test_oversized_and_malformed_bodies_are_400(make_site: Callable[..., Site]) -> None:
    site = make_site("deletions-big.example.com")
    client = api(site)
    huge = json.dumps({"date_range": "all", "filters": [["is", "event:page", ["x" * 70_000]]]})
    assert post(client, site.domain, None, raw=huge.encode()).json()["error"].startswith("body:")
    assert post(client, site.domain, None, raw=b"{nope").json()["error"].startswith("body:")
    assert post(client, site.domain, None, raw=b"[1]").json()["error"].startswith("body:")


def test_tenancy_scopes_and_roles(pair: Callable[..., tuple[Site, Site]]) -> None:
    site, twin = pair()
    body = {"date_range": "all", "filters": [["is", "event:page", ["/x"]]]}
    created = post(api(site), site.domain, body)
    job_id = created.json()["id"]
    # another organization's key: the site and the job are not found, as made-up ones
    stranger = api(twin)
    assert post(stranger, site.domain, body).status_code == 404
    assert post(stranger, "nowhere.example.com", body).status_code == 404
    assert stranger.get(f"/api/v1/deletions/{job_id}").status_code == 404
    assert stranger.get("/api/v1/deletions/00000000-0000-0000-0000-000000000000").status_code == 404
    assert stranger.get("/api/v1/deletions/not-a-uuid").status_code == 404
    # a key without sites:manage
    reader = api(site, scopes=("stats:read", "sites:read"))
    assert post(reader, site.domain, body).status_code == 403
    assert reader.get(f"/api/v1/deletions/{job_id}").status_code == 403
    # a viewer signed in: 403; an admin: allowed, but cannot read the audit (owners)
    viewer = factories.member(site.organization, Role.VIEWER)
    client = Client()
    client.force_login(viewer)
    assert post(client, site.domain, {**body, "preview": True}).status_code == 403
    assert client.get(f"/api/v1/deletions/{job_id}").status_code == 403
    admin = factories.member(site.organization, Role.ADMIN)
    client.force_login(admin)
    assert post(client, site.domain, {**body, "preview": True}).json() == {"rows": 3}
    assert client.get("/api/v1/deletions").status_code == 403
    # nothing was deleted by any refused request
    assert stats(site)[0]["metrics"][3] == 10


def test_owners_list_the_audit_entries(pair: Callable[..., tuple[Site, Site]]) -> None:
    site, twin = pair()
    owner = site.organization.memberships.get(role=Role.OWNER).user
    client = Client()
    client.force_login(owner)
    created = post(
        client, site.domain, {"date_range": RANGE, "filters": [["is", "event:page", ["/x"]]]}
    )
    assert created.status_code == 202, created.content
    data_jobs.run(created.json()["id"])
    listed = client.get("/api/v1/deletions")
    assert listed.status_code == 200
    [entry] = listed.json()["results"]
    assert entry["actor"] == f"user: {owner.email}"
    assert (entry["site"], entry["rows"], entry["status"]) == (site.domain, 2, "done")
    assert entry["date_range"] == RANGE and entry["filters"] == [["is", "event:page", ["/x"]]]
    # the twin's organization sees none of it
    assert api(twin).get("/api/v1/deletions").json() == {"results": []}


def test_an_interrupted_deletion_is_repaired_by_the_next(
    pair: Callable[..., tuple[Site, Site]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job that stops after its DELETE (here: the visits' rewrite fails, as a kill would
    stop it) is failed with its audit entry and leaves its noted visits; `repair`, run by the
    next deletion of the site, rewrites them and the site equals its twin."""
    site, twin = pair(without="user")
    rewrite = deletions._rewrite_visits

    def killed(**_: Any) -> int:
        raise RuntimeError("killed")

    monkeypatch.setattr(deletions, "_rewrite_visits", killed)
    body = {"date_range": "all", "filters": [["is", "event:props:user_id", ["123"]]]}
    created = post(api(site), site.domain, body)
    assert data_jobs.run(created.json()["id"]) == "failed"
    audit = DeletionAudit.objects.get(job_id=created.json()["id"])
    assert (audit.status, audit.error) == ("failed", "killed")
    assert report(site) != report(twin)  # the visits still count the deleted events
    monkeypatch.setattr(deletions, "_rewrite_visits", rewrite)
    delete(api(site), site, {"date_range": "all", "filters": [["is", "event:page", ["/none"]]]})
    assert report(site) == report(twin)
    assert deletions.repair(site_id=site.pk) == 0
