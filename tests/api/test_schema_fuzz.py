"""The OpenAPI fuzzer (schemathesis, from PyPI) over the whole `/api/schema/`, against
Trail's WSGI application on the real SQLite/PostgreSQL and chDB, with a key holding every
scope: no answer is a server error, and every answer is one the schema documents (its
status code, content type and body schema).

Each operation is one test; the generated cases name the fuzz site (its domain, or its
`site_id`) and its objects' ids, so they reach the code behind the lookups, not only the
404 (which tests/sites/test_api_items.py and the tenancy tests cover). Run by `make
test` and `.ci/run`; about a minute on this machine (`FUZZ_EXAMPLES` per operation).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import services as account_services
from accounts.models import ApiKey, Role, Scope
from sites import services as site_services
from sites.models import Site
from tests import factories
from tests.wsgi_client import _application

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
DOMAIN = "fuzz.example.com"
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_wsgi("/api/schema/", _application())


@pytest.fixture
def _keep_the_test_connection() -> Iterator[None]:
    """The WSGI handler closes "old" connections around each request, and inside the
    test's transaction PostgreSQL's counts as old (autocommit off): Django's test client
    keeps it open the same way, by leaving `close_old_connections` out."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_world(
    clickhouse: Any, make_site: Callable[..., Site], _keep_the_test_connection: None
) -> dict[str, str]:
    """An owner's key with every scope and no practical rate limit; a site with a goal, a
    funnel and a shared link; a viewer, an invitation and a second key: their ids by the
    path parameters' names. The site's id is fresh (`make_site`): the events the fuzzer
    sends stay in ClickHouse after the test, and must not land on another test's site."""
    site = make_site(DOMAIN)
    org = site.organization
    owner = org.memberships.get(role=Role.OWNER).user
    viewer = factories.member(org, Role.VIEWER)
    goal = site_services.goal_create(site=site, kind="event", value="Signup")
    funnel = site_services.funnel_create(
        site=site,
        name="Pricing to signup",
        steps=[{"type": "page", "value": "/pricing"}, {"type": "event", "value": "Signup"}],
        window=1800,
    )
    link = site_services.shared_link_create(site=site, name="Board")
    invitation, _ = account_services.invitation_create(
        organization=org, actor=owner, email="guest@example.com", role=Role.VIEWER
    )
    other_key, _ = factories.api_key(org, scopes=(Scope.STATS_READ,))
    key, raw = factories.api_key(org, scopes=tuple(Scope.values))
    ApiKey.objects.filter(pk=key.pk).update(rate_limit_per_minute=10**9)
    return {
        "raw": raw,
        "goal_id": str(goal.pk),
        "funnel_id": str(funnel.pk),
        "link_id": str(link.pk),
        "user_id": str(viewer.pk),
        "invitation_id": str(invitation.pk),
        "key_id": str(other_key.pk),
    }


def _aim_at_the_fuzz_site(case: Any, world: dict[str, str]) -> None:
    for name in case.path_parameters or {}:
        if name in world:
            case.path_parameters[name] = world[name]
    if case.path_parameters and "domain" in case.path_parameters:
        case.path_parameters["domain"] = DOMAIN
    if isinstance(case.query, dict) and "site_id" in case.query:
        case.query["site_id"] = DOMAIN
    if isinstance(case.body, dict) and "site_id" in case.body:
        case.body["site_id"] = DOMAIN


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_as_its_schema_says(case: Any, fuzz_world: dict[str, str]) -> None:
    _aim_at_the_fuzz_site(case, fuzz_world)
    headers = {"Authorization": f"Bearer {fuzz_world['raw']}"}
    case.call_and_validate(headers=headers, checks=CHECKS)
