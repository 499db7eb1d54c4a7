"""Test data made through Trail's own services (never by writing rows behind their back)."""

from __future__ import annotations

import itertools

from accounts import services as accounts
from accounts.models import ApiKey, Organization, Role, Scope, User
from sites import services as sites
from sites.models import Site

_n = itertools.count(1)


PASSWORD = "correct-horse-battery-9"


def user(email: str | None = None, password: str = PASSWORD) -> User:
    return User.objects.create_user(
        email=email or f"person{next(_n)}@example.com", password=password
    )


def organization(owner: User | None = None, name: str | None = None) -> Organization:
    return accounts.organization_create(name=name or f"Org {next(_n)}", owner=owner or user())


def member(org: Organization, role: Role, email: str | None = None) -> User:
    person = user(email)
    org.memberships.create(user=person, role=role)
    return person


def site(org: Organization, domain: str | None = None, timezone: str = "UTC") -> Site:
    return sites.site_create(
        organization=org, domain=domain or f"site{next(_n)}.example.net", timezone_name=timezone
    )


def api_key(org: Organization, scopes: tuple[str, ...] = tuple(Scope.values)) -> tuple[ApiKey, str]:
    owner = org.memberships.filter(role=Role.OWNER).select_related("user").first()
    assert owner is not None
    return accounts.api_key_create(
        organization=org, actor=owner.user, name="test key", scopes=scopes
    )
