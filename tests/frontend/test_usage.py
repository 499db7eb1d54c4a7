"""The usage page and `GET /api/v1/usage`: this month's events against the quota, per site
and day, for the current organization only (docs/limits.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from accounts.models import Organization, Role, Scope, User
from events.limits.models import DailySiteUsage, MonthlyUsage, OrganizationLimits
from tests import factories
from tests.api_client import bearer

pytestmark = pytest.mark.django_db

TODAY = dt.datetime.now(dt.UTC).date()


def _usage(org: Organization, domain: str, events: int, quota: int | None) -> None:
    site = factories.site(org, domain)
    DailySiteUsage.objects.create(site=site, day=TODAY, events=events)
    MonthlyUsage.objects.create(
        organization=org,
        month=TODAY.replace(day=1),
        events=events,
        counted_at=dt.datetime.now(dt.UTC),
    )
    if quota:
        OrganizationLimits.objects.create(organization=org, monthly_quota=quota)


@pytest.fixture
def tenants() -> dict[str, Any]:
    a, b = factories.organization(), factories.organization()
    _usage(a, "usage-a.com", 4321, 10_000)
    _usage(b, "usage-secret-b.com", 987_654, 1_000_000)
    viewer = factories.member(a, Role.VIEWER)
    return {"a": a, "b": b, "viewer": viewer}


def test_a_member_sees_the_organizations_usage(tenants: dict[str, Any], client: Client) -> None:
    client.force_login(tenants["viewer"])
    page = client.get("/organization/usage").content.decode()
    assert "usage-a.com" in page and "4321" in page and "10000" in page and "(43%)" in page
    assert "usage-secret-b.com" not in page and "987654" not in page


def test_another_organizations_usage_is_not_visible(
    tenants: dict[str, Any], client: Client
) -> None:
    client.force_login(tenants["viewer"])  # of A only
    b = tenants["b"]
    for path in (
        f"/organization/usage?organization={b.id}",
        f"/organization/usage?organization_id={b.id}",
    ):
        page = client.get(path).content.decode()
        assert "usage-secret-b.com" not in page and "987654" not in page
    answer = client.get(f"/api/v1/usage?organization_id={b.id}")
    assert answer.status_code == 404
    assert b"usage-secret-b" not in answer.content and b"987654" not in answer.content


def test_the_api_answers_the_keys_organization(tenants: dict[str, Any]) -> None:
    _, raw = factories.api_key(tenants["a"], scopes=(Scope.STATS_READ,))
    answer = bearer(raw).get(f"/api/v1/usage?organization_id={tenants['b'].id}")
    assert answer.status_code == 200  # a key acts in its own organization
    body = answer.json()
    assert body["events"] == 4321 and body["quota"] == 10_000 and body["percent"] == 43
    assert body["month"] == f"{TODAY:%Y-%m}" and not body["over_quota"]
    assert [s["domain"] for s in body["sites"]] == ["usage-a.com"]
    assert {"date": TODAY.isoformat(), "events": 4321} in body["sites"][0]["days"]
    assert sum(d["events"] for d in body["sites"][0]["days"]) == 4321


def test_a_site_limited_key_and_a_wrong_scope_see_nothing(tenants: dict[str, Any]) -> None:
    key, raw = factories.api_key(tenants["a"], scopes=(Scope.STATS_READ,))
    key.site_limited = True
    key.save()
    assert bearer(raw).get("/api/v1/usage").status_code == 404
    _, other = factories.api_key(tenants["a"], scopes=(Scope.EVENTS_WRITE,))
    assert bearer(other).get("/api/v1/usage").status_code == 403


def test_a_member_of_two_organizations_sees_the_current_one(
    tenants: dict[str, Any], client: Client
) -> None:
    person: User = tenants["viewer"]
    tenants["b"].memberships.create(user=person, role=Role.VIEWER)
    client.force_login(person)
    client.post("/organization/switch", {"organization": tenants["b"].id})
    page = client.get("/organization/usage").content.decode()
    assert "usage-secret-b.com" in page and "usage-a.com" not in page


def test_the_page_without_usage_or_quota(client: Client) -> None:
    person = factories.user()
    factories.organization(owner=person)
    client.force_login(person)
    page = client.get("/organization/usage").content.decode()
    assert "has no monthly quota" in page and "No events counted this month yet." in page
