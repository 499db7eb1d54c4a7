"""Organizations, memberships, invitations and API keys: the rules and the bad paths."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from accounts import services
from accounts.errors import Forbidden, ServiceError
from accounts.models import ApiKey, Invitation, Membership, Role
from tests import factories

pytestmark = pytest.mark.django_db(transaction=False)


def test_every_user_gets_one_organization_once() -> None:
    person = factories.user()
    first = services.organization_ensure_for_user(user=person)
    assert services.organization_ensure_for_user(user=person) == first
    assert Membership.objects.get(user=person).role == Role.OWNER


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_organization_needs_a_sane_name(name: str) -> None:
    with pytest.raises(ServiceError) as caught:
        services.organization_create(name=name, owner=factories.user())
    assert caught.value.field == "name"


@pytest.mark.django_db(transaction=True)
def test_invitation_is_emailed_and_accepted_once() -> None:
    org = factories.organization()
    owner = org.memberships.get().user
    invitation, token = services.invitation_create(
        organization=org, actor=owner, email=" Viewer@Example.com ", role=Role.VIEWER
    )
    assert invitation.email == "viewer@example.com"
    assert invitation.token_hash != token and token not in invitation.token_hash
    [message] = mail.outbox
    assert message.to == ["viewer@example.com"]
    assert f"/invitations/{token}" in message.body

    viewer = factories.user("viewer@example.com")
    membership = services.invitation_accept(token=token, user=viewer)
    assert membership.role == Role.VIEWER and membership.organization == org
    with pytest.raises(ServiceError, match="already been used"):
        services.invitation_accept(token=token, user=viewer)


def test_expired_invitation_is_refused() -> None:
    org = factories.organization()
    _, token = services.invitation_create(
        organization=org,
        actor=org.memberships.get().user,
        email="late@example.com",
        role=Role.ADMIN,
    )
    Invitation.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(ServiceError, match="expired"):
        services.invitation_accept(token=token, user=factories.user("late@example.com"))
    assert not Membership.objects.filter(user__email="late@example.com", organization=org).exists()


@pytest.mark.parametrize("token", ["", "nope", "x" * 5000, "'; DROP TABLE accounts_invitation; --"])
def test_unknown_invitation_token_is_refused(token: str) -> None:
    with pytest.raises(ServiceError, match="not valid"):
        services.invitation_accept(token=token, user=factories.user())


def test_invitation_for_someone_else_is_refused() -> None:
    org = factories.organization()
    _, token = services.invitation_create(
        organization=org,
        actor=org.memberships.get().user,
        email="right@example.com",
        role=Role.VIEWER,
    )
    with pytest.raises(ServiceError, match="sent to right@example.com"):
        services.invitation_accept(token=token, user=factories.user("wrong@example.com"))


def test_invitation_rules() -> None:
    org = factories.organization()
    owner = org.memberships.get().user
    admin = factories.member(org, Role.ADMIN)
    viewer = factories.member(org, Role.VIEWER)
    with pytest.raises(Forbidden):
        services.invitation_create(
            organization=org, actor=viewer, email="a@example.com", role=Role.VIEWER
        )
    with pytest.raises(Forbidden, match="only an owner"):
        services.invitation_create(
            organization=org, actor=admin, email="a@example.com", role=Role.OWNER
        )
    with pytest.raises(ServiceError, match="already a member"):
        services.invitation_create(
            organization=org, actor=owner, email=viewer.email.upper(), role=Role.ADMIN
        )
    with pytest.raises(ServiceError) as caught:
        services.invitation_create(
            organization=org, actor=owner, email="not-an-email", role=Role.ADMIN
        )
    assert caught.value.field == "email"
    with pytest.raises(ServiceError) as caught:
        services.invitation_create(organization=org, actor=owner, email="b@example.com", role="god")
    assert caught.value.field == "role"


def test_last_owner_cannot_leave_but_can_after_transfer() -> None:
    org = factories.organization()
    owner = org.memberships.get().user
    admin = factories.member(org, Role.ADMIN)
    with pytest.raises(ServiceError, match="last owner cannot leave"):
        services.membership_remove(organization=org, actor=owner, user=owner)
    with pytest.raises(ServiceError, match="at least one owner"):
        services.membership_set_role(organization=org, actor=owner, user=owner, role=Role.VIEWER)
    services.ownership_transfer(organization=org, actor=owner, to_user=admin)
    assert org.memberships.get(user=admin).role == Role.OWNER
    assert org.memberships.get(user=owner).role == Role.ADMIN
    services.membership_remove(organization=org, actor=owner, user=owner)
    assert list(org.memberships.values_list("user", flat=True)) == [admin.pk]


def test_only_owners_touch_owners_and_only_members_receive_ownership() -> None:
    org = factories.organization()
    owner = org.memberships.get().user
    admin = factories.member(org, Role.ADMIN)
    stranger = factories.user()
    with pytest.raises(Forbidden):
        services.membership_remove(organization=org, actor=admin, user=owner)
    with pytest.raises(Forbidden):
        services.membership_set_role(organization=org, actor=admin, user=admin, role=Role.OWNER)
    with pytest.raises(Forbidden):
        services.ownership_transfer(organization=org, actor=admin, to_user=admin)
    with pytest.raises(ServiceError, match="only go to a member"):
        services.ownership_transfer(organization=org, actor=owner, to_user=stranger)


def test_api_keys_are_stored_hashed_and_revocable() -> None:
    org = factories.organization()
    owner = org.memberships.get().user
    key, raw = services.api_key_create(
        organization=org, actor=owner, name="ci", scopes=["stats:read", "sites:manage"]
    )
    assert raw.startswith(f"trail_{key.prefix}_")
    assert raw not in (key.key_hash, key.prefix) and len(key.key_hash) == 64
    assert services.api_key_authenticate(raw) == key
    assert ApiKey.objects.get(pk=key.pk).last_used_at is not None
    assert services.api_key_authenticate(raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None
    assert services.api_key_authenticate(f"trail_{key.prefix}_guess") is None
    services.api_key_revoke(key=key, actor=owner)
    assert services.api_key_authenticate(raw) is None


@pytest.mark.parametrize(
    ("scopes", "message"),
    [([], "choose at least one scope"), (["stats:write"], "unknown scope 'stats:write'")],
)
def test_api_key_scopes_are_checked(scopes: list[str], message: str) -> None:
    org = factories.organization()
    with pytest.raises(ServiceError, match=message):
        services.api_key_create(
            organization=org, actor=org.memberships.get().user, name="k", scopes=scopes
        )


def test_viewers_cannot_make_keys() -> None:
    org = factories.organization()
    viewer = factories.member(org, Role.VIEWER)
    with pytest.raises(Forbidden):
        services.api_key_create(organization=org, actor=viewer, name="k", scopes=["stats:read"])


@pytest.mark.parametrize("raw", ["", "trail_", "trail__", "Bearer x", "trail_" + "x" * 10_000])
def test_garbage_keys_do_not_authenticate(raw: str) -> None:
    assert services.api_key_authenticate(raw) is None
