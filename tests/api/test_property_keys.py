"""`GET /api/v1/sites/{domain}/property-keys`: the custom property keys an event's rows
carry, read from real chDB through the SQL builder; bad input names the field; the scope,
another tenant's site and a limited key as everywhere else."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts import services as accounts
from accounts.models import Role, Scope
from sites.models import Site
from tests import factories

pytestmark = pytest.mark.django_db


def _events(domain: str) -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamp = (now - dt.timedelta(minutes=10)).isoformat()
    signup = {"domain": domain, "name": "Signup", "url": f"https://{domain}/", "timestamp": stamp}
    return [
        {**signup, "props": {"plan": "pro", "source": "ad"}, "ip": "203.0.113.1"},
        {**signup, "props": {"plan": "free"}, "ip": "203.0.113.2"},
        {**signup, "name": "Other", "props": {"colour": "red"}, "ip": "203.0.113.3"},
    ]


def test_property_keys_of_an_event(
    make_site: Callable[..., Site], seed: Callable[..., None]
) -> None:
    site = make_site("props.example.com")
    seed(site, _events(site.domain))
    _, raw = factories.api_key(site.organization, scopes=(Scope.STATS_READ,))
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    base = "/api/v1/sites/props.example.com/property-keys"
    answer = api.get(base, {"event": "Signup", "date_range": "7d"})
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"event": "Signup", "keys": ["plan", "source"]}
    today = dt.datetime.now(dt.UTC).date()
    span = f"{today - dt.timedelta(days=2)},{today + dt.timedelta(days=1)}"
    assert api.get(base, {"event": "Other", "date_range": span}).json()["keys"] == ["colour"]
    assert api.get(base, {"event": "Nothing"}).json()["keys"] == []

    missing = api.get(base)
    assert (missing.status_code, missing.json()["error"].split(":")[0]) == (400, "event")
    bad_range = api.get(base, {"event": "Signup", "date_range": "fortnight"})
    assert bad_range.status_code == 400
    assert bad_range.json()["error"].startswith("date_range")

    # Scope, tenancy, limits.
    _, sites_only = factories.api_key(site.organization, scopes=(Scope.SITES_MANAGE,))
    assert (
        Client(HTTP_AUTHORIZATION=f"Bearer {sites_only}").get(base, {"event": "Signup"}).status_code
        == 403
    )
    _, stranger = factories.api_key(factories.organization(), scopes=(Scope.STATS_READ,))
    outsider = Client(HTTP_AUTHORIZATION=f"Bearer {stranger}")
    theirs = outsider.get(base, {"event": "Signup"})
    made_up = outsider.get("/api/v1/sites/nope.example.com/property-keys", {"event": "Signup"})
    assert (theirs.status_code, theirs.content) == (404, made_up.content)
    other_site = factories.site(site.organization, "other-props.example.com")
    owner = site.organization.memberships.get(role=Role.OWNER).user
    _, limited = accounts.api_key_create(
        organization=site.organization,
        actor=owner,
        name="other only",
        scopes=[Scope.STATS_READ],
        sites=[other_site],
    )
    hidden = Client(HTTP_AUTHORIZATION=f"Bearer {limited}").get(base, {"event": "Signup"})
    assert hidden.status_code == 404
