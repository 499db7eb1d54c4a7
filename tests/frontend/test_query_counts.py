"""Pages that list things run a fixed number of queries, however many things there are.

Each page is measured with a little and with a lot of data and must run exactly the same
queries both times: a count that grows with the rows is an N+1 (a query per row).
"""

from __future__ import annotations

import pytest
from django.test import Client
from pytest_django import DjangoAssertNumQueries

from accounts import services
from accounts.models import Organization, Role, User
from tests import factories

pytestmark = pytest.mark.django_db

# session, user, the user's memberships (with their organizations), the page's list
SITE_LIST_QUERIES = 4
# session, user, memberships, members (with their users), pending invitations
ORGANIZATION_QUERIES = 5
# session, user, memberships, keys, the keys' site limits (one prefetch), the form's sites
API_KEYS_QUERIES = 6


def _owner(org: Organization) -> User:
    return org.memberships.get(role=Role.OWNER).user


def _signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


@pytest.mark.parametrize("sites", [1, 20])
def test_site_list(
    client: Client, django_assert_num_queries: DjangoAssertNumQueries, sites: int
) -> None:
    org = factories.organization()
    domains = [factories.site(org).domain for _ in range(sites)]
    _signed_in(client, _owner(org))

    with django_assert_num_queries(SITE_LIST_QUERIES):
        response = client.get("/sites/")

    assert response.status_code == 200
    page = response.content.decode()
    assert all(domain in page for domain in domains)


@pytest.mark.parametrize("organizations", [1, 6])
def test_site_list_with_the_organization_switcher(
    client: Client, django_assert_num_queries: DjangoAssertNumQueries, organizations: int
) -> None:
    """The header lists every organization of the user (by name) for switching."""
    person = factories.user()
    orgs = [factories.organization(owner=person) for _ in range(organizations)]
    factories.site(orgs[0])
    _signed_in(client, person)

    with django_assert_num_queries(SITE_LIST_QUERIES):
        response = client.get("/sites/")

    assert response.status_code == 200
    page = response.content.decode()
    assert all(org.name in page for org in orgs)


@pytest.mark.parametrize(("members", "invitations"), [(2, 0), (15, 10)])
def test_organization(
    client: Client,
    django_assert_num_queries: DjangoAssertNumQueries,
    members: int,
    invitations: int,
) -> None:
    org = factories.organization()
    owner = _owner(org)
    roles = [Role.VIEWER, Role.ADMIN, Role.OWNER]
    emails = [owner.email]
    emails += [factories.member(org, roles[i % 3]).email for i in range(members - 1)]
    invited = [f"invitee{i}@example.org" for i in range(invitations)]
    for email in invited:
        services.invitation_create(organization=org, actor=owner, email=email, role=Role.VIEWER)
    _signed_in(client, owner)

    with django_assert_num_queries(ORGANIZATION_QUERIES):
        response = client.get("/organization/")

    assert response.status_code == 200
    page = response.content.decode()
    assert all(email in page for email in emails + invited)


@pytest.mark.parametrize("keys", [1, 10])
def test_api_keys(
    client: Client, django_assert_num_queries: DjangoAssertNumQueries, keys: int
) -> None:
    org = factories.organization()
    owner = _owner(org)
    prefixes = [factories.api_key(org)[0].prefix for _ in range(keys)]
    _signed_in(client, owner)

    with django_assert_num_queries(API_KEYS_QUERIES):
        response = client.get("/settings/api-keys")

    assert response.status_code == 200
    page = response.content.decode()
    assert all(f"trail_{prefix}_" in page for prefix in prefixes)
