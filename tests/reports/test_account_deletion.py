"""Deleting an organization or an account, and "Download my data" (accounts/services.py,
accounts/selectors.py, frontend/views/account.py, events/deletions.py), on real chDB and the
real database: an organization's sites go with it and the purge job removes their events;
an account takes the organizations it alone owns and leaves shared ones; the account record
holds names and scopes of keys, never a secret. Also the Delete data page's tenancy."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts import services
from accounts.errors import Forbidden
from accounts.models import ApiKey, Membership, Organization, Role, User
from events import data_jobs
from events.clickhouse import get_client
from events.deletions import drop_deleted_organizations
from events.maintenance import purge_deleted_sites
from events.models import DataJob
from sites.models import Site
from tests import factories
from tests.reports.conftest import hit
from tests.reports.test_export_jobs import api, run_to_end, start

pytestmark = pytest.mark.django_db

AT = dt.datetime.now(dt.UTC).replace(hour=9, minute=0, second=0, microsecond=0) - dt.timedelta(
    days=1
)


def events_of(site_id: int) -> int:
    found = get_client().query(
        "SELECT count() AS n FROM events WHERE site_id = {s:UInt64}", {"s": site_id}
    )
    return int(found[0]["n"])


def owner_of(site: Site) -> User:
    return site.organization.memberships.get(role=Role.OWNER).user


def test_deleting_an_organization_removes_its_sites_and_their_events(
    make_site: Callable[..., Site],
    seed: Callable[[Site, list[dict[str, Any]]], None],
    django_capture_on_commit_callbacks: Any,
) -> None:
    site = make_site("org-deletion.example.com")
    other = make_site("org-deletion-other.example.com", organization=site.organization)
    neighbour = make_site("org-deletion-neighbour.example.com")
    for s in (site, other, neighbour):
        seed(s, [hit(s, AT, "/"), hit(s, AT, "/a", ip="192.0.2.50")])
    organization, owner = site.organization, owner_of(site)
    exported = run_to_end(
        start(api(site), site.domain, kind="events", format="csv", date_range="7d")
    )
    export_file = DataJob.objects.get(pk=exported).result_name
    assert data_jobs.storage().exists(export_file)
    admin = factories.member(organization, Role.ADMIN)
    with pytest.raises(Forbidden):
        services.organization_delete(organization=organization, actor=admin)

    services.organization_delete(organization=organization, actor=owner)
    assert set(
        Site.objects.filter(organization=organization).values_list("deleted_at", flat=True)
    ) != {None}
    assert not Site.objects.filter(organization=organization, deleted_at__isnull=True).exists()
    assert not ApiKey.objects.filter(organization=organization).exists()
    assert not Membership.objects.filter(organization=organization).exists()
    assert drop_deleted_organizations() == 0  # its sites are not purged yet
    with django_capture_on_commit_callbacks(execute=True):
        purge_deleted_sites()
    assert not DataJob.objects.filter(pk=exported).exists()
    assert not data_jobs.storage().exists(export_file)  # its export's file too
    assert events_of(site.pk) == events_of(other.pk) == 0
    assert events_of(neighbour.pk) == 2
    assert drop_deleted_organizations() == 1
    assert not Organization.objects.filter(pk=organization.pk).exists()
    assert Site.objects.filter(pk=neighbour.pk, deleted_at__isnull=True).exists()


def test_deleting_an_account_takes_the_organizations_it_alone_owns(
    make_site: Callable[..., Site],
) -> None:
    mine = make_site("account-deletion-mine.example.com")
    shared = make_site("account-deletion-shared.example.com")
    person = owner_of(mine)
    Membership.objects.create(user=person, organization=shared.organization, role=Role.OWNER)
    deleted = services.user_delete(user=person)
    assert [o.pk for o in deleted] == [mine.organization_id]
    assert not User.objects.filter(pk=person.pk).exists()
    assert Site.objects.get(pk=mine.pk).deleted_at is not None
    assert Site.objects.get(pk=shared.pk).deleted_at is None  # another owner keeps it


def test_download_my_data_is_the_persons_record_without_secrets(
    make_site: Callable[..., Site],
) -> None:
    site = make_site("my-data.example.com")
    person = owner_of(site)
    key, raw = factories.api_key(site.organization, scopes=("stats:read",))
    services.invitation_create(
        organization=site.organization, actor=person, email="friend@example.com", role="viewer"
    )
    stranger_site = make_site("my-data-stranger.example.com")
    factories.api_key(stranger_site.organization)
    client = Client()
    client.force_login(person)
    created = client.post(
        f"/api/v1/sites/{site.domain}/deletions",
        data=json.dumps({"date_range": "all", "filters": [["is", "event:page", ["/gone"]]]}),
        content_type="application/json",
    )
    assert created.status_code == 202, created.content
    answer = client.get("/account/data.json")
    assert answer.status_code == 200
    assert 'filename="trail-my-data.json"' in answer["Content-Disposition"]
    record = answer.json()
    assert record["email"] == person.email
    assert [m["role"] for m in record["memberships"]] == ["owner"]
    assert [(k["name"], k["prefix"], k["scopes"]) for k in record["api_keys"]] == [
        ("test key", key.prefix, ["stats:read"])
    ]
    assert [i["email"] for i in record["invitations_sent"]] == ["friend@example.com"]
    assert [d["filters"] for d in record["deletions"]] == [[["is", "event:page", ["/gone"]]]]
    text = answer.content.decode()
    assert raw not in text and key.key_hash not in text and "password" not in text
    assert stranger_site.domain not in text
    assert Client().get("/account/data.json").status_code == 302  # signed out: to sign in


def test_the_account_page_deletes_an_organization_and_the_account(
    make_site: Callable[..., Site],
) -> None:
    site = make_site("account-page.example.com")
    person = owner_of(site)
    client = Client()
    client.force_login(person)
    page = client.get("/account")
    assert page.status_code == 200 and b"Download my data" in page.content
    assert b'<a href="/account">Account</a>' in page.content  # the top bar's link
    assert b'href="/accounts/password/change/"' in page.content
    name = site.organization.name
    wrong = {"action": "delete_organization", "organization": site.organization_id, "confirm": "x"}
    assert client.post("/account", wrong).status_code == 400
    assert Site.objects.get(pk=site.pk).deleted_at is None
    right = {**wrong, "confirm": name}
    assert client.post("/account", right).status_code == 302
    assert Site.objects.get(pk=site.pk).deleted_at is not None
    assert client.post("/account", {"action": "delete_account", "confirm": "no"}).status_code == 400
    gone = client.post("/account", {"action": "delete_account", "confirm": person.email.upper()})
    assert gone.status_code == 302
    assert not User.objects.filter(pk=person.pk).exists()


def test_the_delete_data_page_refuses_viewers_and_other_tenants(
    make_site: Callable[..., Site],
) -> None:
    site = make_site("delete-page.example.com")
    stranger = make_site("delete-page-stranger.example.com")
    client = Client()
    client.force_login(factories.member(site.organization, Role.VIEWER))
    assert client.get(f"/sites/{site.domain}/deletions").status_code == 403
    assert client.post(f"/sites/{site.domain}/deletions", {"period": "all"}).status_code == 403
    client.force_login(owner_of(stranger))
    assert client.get(f"/sites/{site.domain}/deletions").status_code == 404
    client.force_login(owner_of(site))
    page = client.get(f"/sites/{site.domain}/deletions")
    assert page.status_code == 200 and b"Preview" in page.content
    refused = client.post(f"/sites/{site.domain}/deletions", {"period": "all", "action": "preview"})
    assert refused.status_code == 400 and b"All: this would delete every event" in refused.content
    bad = client.post(
        f"/sites/{site.domain}/deletions",
        {"period": "all", "kind0": "props", "key0": "", "value0": "1", "action": "preview"},
    )
    assert bad.status_code == 400 and b"name the custom property" in bad.content


def test_the_periodic_repair_finishes_a_left_scratch_table(make_site: Callable[..., Site]) -> None:
    """A scratch table whose job is not running (killed) is finished by the periodic job."""
    from events.deletions import repair_interrupted, scratch_table

    site = make_site("repair-periodic.example.com")
    name = scratch_table(site.pk, "f" * 32)
    get_client().command(
        f"CREATE TABLE {name} (session_id UInt64, day Date) ENGINE = MergeTree ORDER BY session_id"
    )
    assert repair_interrupted() >= 1
    left = get_client().query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() AND name = {n:String}",
        {"n": name},
    )
    assert left == []
