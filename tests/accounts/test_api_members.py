"""The REST API for members and invitations: the organization page's services, its roles
(owner-only changes stay owner-only, for a key too: it acts as its maker), the keys'
members scopes, and another organization's people answered as made-up ones."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from accounts import services
from accounts.models import Invitation, Membership, Role, Scope
from tests import factories
from tests.api_client import bearer, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def org() -> Any:
    return factories.organization()


def owner_of(org: Any) -> Any:
    return org.memberships.get(role=Role.OWNER).user


def test_members_list_role_change_and_removal(org: Any) -> None:
    _, raw = factories.api_key(org)
    api = bearer(raw)
    viewer = factories.member(org, Role.VIEWER, "vera@example.com")
    members = api.get("/api/v1/members").json()["members"]
    assert [(m["email"], m["role"]) for m in members] == [
        (owner_of(org).email, "owner"),
        ("vera@example.com", "viewer"),
    ]
    changed = send(api, "put", f"/api/v1/members/{viewer.pk}", {"role": "admin"})
    assert changed.status_code == 200, changed.content
    assert changed.json()["role"] == "admin"
    assert Membership.objects.get(user=viewer).role == Role.ADMIN
    bad = send(api, "put", f"/api/v1/members/{viewer.pk}", {"role": "king"})
    assert (bad.status_code, bad.json()["error"]) == (400, 'role: "king" is not a valid choice.')
    assert api.delete(f"/api/v1/members/{viewer.pk}").status_code == 204
    assert not Membership.objects.filter(user=viewer).exists()
    last_owner = api.delete(f"/api/v1/members/{owner_of(org).pk}")
    assert last_owner.status_code == 400
    assert last_owner.json()["error"].startswith("user: the last owner cannot leave")


def test_invitations_invite_list_revoke(org: Any, django_capture_on_commit_callbacks: Any) -> None:
    _, raw = factories.api_key(org)
    api = bearer(raw)
    with django_capture_on_commit_callbacks(execute=True):
        made = send(api, "post", "/api/v1/invitations", {"email": "Grace@Example.com"})
    assert made.status_code == 201, made.content
    invitation = made.json()
    assert (invitation["email"], invitation["role"]) == ("grace@example.com", "viewer")
    assert invitation["invited_by"] == owner_of(org).email
    assert "token" not in json.dumps(invitation)
    assert [m.to for m in mail.outbox] == [["grace@example.com"]]
    assert api.get("/api/v1/invitations").json() == {"invitations": [invitation]}
    bad = send(api, "post", "/api/v1/invitations", {"email": "not an address"})
    assert (bad.status_code, bad.json()["error"]) == (400, "email: enter a valid email address")
    assert api.delete(f"/api/v1/invitations/{invitation['id']}").status_code == 204
    assert not Invitation.objects.exists()


def test_a_key_acts_with_its_makers_role(org: Any) -> None:
    admin = factories.member(org, Role.ADMIN)
    key, raw = services.api_key_create(
        organization=org, actor=admin, name="admin's", scopes=[Scope.MEMBERS_MANAGE]
    )
    api = bearer(raw)
    owner = owner_of(org)
    viewer = factories.member(org, Role.VIEWER)
    # An admin may not make owners, nor may the admin's key.
    refused = send(api, "put", f"/api/v1/members/{viewer.pk}", {"role": "owner"})
    assert refused.status_code == 403
    assert (
        send(api, "post", "/api/v1/invitations", {"email": "o@x.org", "role": "owner"}).status_code
        == 403
    )
    assert api.delete(f"/api/v1/members/{owner.pk}").status_code == 403
    # Once the maker is a viewer, the key manages nobody.
    services.membership_set_role(organization=org, actor=owner, user=admin, role=Role.VIEWER)
    demoted = send(api, "put", f"/api/v1/members/{viewer.pk}", {"role": "admin"})
    assert demoted.status_code == 403
    assert Membership.objects.get(user=viewer).role == Role.VIEWER
    assert api.get("/api/v1/members").status_code == 200  # members:manage includes reading


def test_viewers_and_scopes(org: Any) -> None:
    viewer = factories.member(org, Role.VIEWER)
    other = factories.member(org, Role.VIEWER)
    client = Client()
    client.force_login(viewer)
    assert client.get("/api/v1/members").status_code == 200
    assert send(client, "put", f"/api/v1/members/{other.pk}", {"role": "admin"}).status_code == 403
    assert send(client, "post", "/api/v1/invitations", {"email": "a@b.org"}).status_code == 403
    _, read_only = factories.api_key(org, scopes=(Scope.MEMBERS_READ,))
    _, sites_only = factories.api_key(org, scopes=(Scope.SITES_MANAGE,))
    assert bearer(read_only).get("/api/v1/invitations").status_code == 200
    refused = send(bearer(read_only), "post", "/api/v1/invitations", {"email": "a@b.org"})
    assert refused.status_code == 403
    assert refused.json()["error"] == "this API key lacks the members:manage scope"
    assert bearer(sites_only).get("/api/v1/members").status_code == 403
    assert not Invitation.objects.exists()


def test_another_organizations_people_are_not_found(org: Any) -> None:
    _, raw = factories.api_key(org)
    api = bearer(raw)
    theirs = factories.organization()
    stranger = owner_of(theirs)
    invitation, _ = services.invitation_create(
        organization=theirs, actor=stranger, email="secret@theirs.org", role=Role.VIEWER
    )
    for method, path, body in [
        ("put", f"/api/v1/members/{stranger.pk}", {"role": "viewer"}),
        ("delete", f"/api/v1/members/{stranger.pk}", None),
        ("delete", f"/api/v1/invitations/{invitation.pk}", None),
    ]:
        answer = send(api, method, path, body)
        made_up = send(api, method, path.rsplit("/", 1)[0] + "/999999", body)
        assert answer.status_code == 404, (path, answer.content)
        assert answer.content == made_up.content
    assert Membership.objects.get(user=stranger).role == Role.OWNER
    assert Invitation.objects.filter(pk=invitation.pk).exists()
    listed = (
        api.get("/api/v1/members").content.decode()
        + api.get("/api/v1/invitations").content.decode()
    )
    assert stranger.email not in listed and "secret@theirs.org" not in listed


def test_a_member_of_several_organizations_names_one(org: Any) -> None:
    person = owner_of(org)
    second = factories.organization(owner=person)
    client = Client()
    client.force_login(person)
    unnamed = client.get("/api/v1/members")
    assert unnamed.status_code == 400
    assert unnamed.json()["error"].startswith("organization_id: required")
    assert client.get(f"/api/v1/members?organization_id={second.pk}").status_code == 200
    stranger_org = factories.organization()
    assert client.get(f"/api/v1/members?organization_id={stranger_org.pk}").status_code == 404
