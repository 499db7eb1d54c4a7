"""Invitations keep new users (issue 16.10) and Trail's e-mails speak as "Trail" (16.11).

An anonymous visitor who opens an invitation, signs up and confirms the e-mailed address is
signed in, member of the inviting organization, working in it; an existing person who logs
in from an invitation joins the same way; an address other than the invited one is told
and joins nothing.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from accounts import services
from accounts.models import Membership, Organization, Role, User
from accounts.sessions import INVITATION_KEY, ORGANIZATION_KEY
from tests import factories

pytestmark = pytest.mark.django_db

PASSWORD = "a-Long-enough-passphrase-7"
INVITEE = "invitee@example.com"


def _path(pattern: str) -> str:
    match = re.search(r"https?://[^/\s]+(" + pattern + ")", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def _invite(email: str = INVITEE) -> tuple[Organization, str]:
    org = factories.organization(name="Acme")
    owner = org.memberships.get(role=Role.OWNER).user
    _, token = services.invitation_create(
        organization=org, actor=owner, email=email, role=Role.VIEWER
    )
    return org, token


def _sign_up(client: Client, email: str, token: str) -> None:
    invitation = f"/invitations/{token}"
    assert client.get(invitation).status_code == 200
    response = client.post(
        f"/accounts/signup/?next={invitation}",
        {"email": email, "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302


def _confirm(client: Client) -> str:
    """Confirm the last e-mailed address; where the browser is sent."""
    confirm = _path(r"/accounts/confirm-email/[^\s/]+/")
    response = client.post(confirm)
    assert response.status_code == 302
    return str(response["Location"])


def test_sign_up_from_an_invitation_lands_in_the_inviting_organization(client: Client) -> None:
    org, token = _invite()
    _sign_up(client, INVITEE, token)
    assert client.session[INVITATION_KEY] == token  # kept across sign-up

    assert _confirm(client) == "/sites/"

    invitee = User.objects.get(email=INVITEE)
    assert Membership.objects.get(user=invitee, organization=org).role == Role.VIEWER
    assert client.session[ORGANIZATION_KEY] == org.id
    assert INVITATION_KEY not in client.session
    page = client.get("/sites/").content.decode()
    assert "You joined Acme." in page
    assert "selected>Acme</option>" in page  # the switcher's current organization
    # The link is used up.
    assert client.get(f"/invitations/{token}").status_code == 410


def test_sign_up_with_another_address_joins_nothing(client: Client) -> None:
    org, token = _invite()
    _sign_up(client, "someone-else@example.com", token)

    assert _confirm(client) == f"/invitations/{token}"  # `next`, as without an invitation

    other = User.objects.get(email="someone-else@example.com")
    assert not Membership.objects.filter(user=other, organization=org).exists()
    assert "sent to invitee@example.com" in client.get("/sites/").content.decode()


def test_logging_in_from_an_invitation_accepts_it(client: Client) -> None:
    org, token = _invite()
    person = factories.user(INVITEE)
    person.emailaddress_set.create(email=INVITEE, verified=True, primary=True)
    assert client.get(f"/invitations/{token}").status_code == 200

    response = client.post("/accounts/login/", {"login": INVITEE, "password": factories.PASSWORD})

    assert response.status_code == 302 and response["Location"] == "/sites/"
    assert Membership.objects.filter(user=person, organization=org).exists()
    assert client.session[ORGANIZATION_KEY] == org.id


def test_emails_greet_from_trail(client: Client, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        _, token = _invite()
    invitation_mail = mail.outbox[-1]
    assert invitation_mail.subject.startswith("[Trail] ")
    _sign_up(client, INVITEE, token)

    verification = mail.outbox[-1]
    assert verification.subject.startswith("[Trail] ")
    assert "Hello from Trail!" in verification.body
    assert "127.0.0.1" not in verification.body.split("\n", 1)[0]
    assert "testserver" not in verification.body.split("\n", 1)[0]


def test_the_invitations_sign_up_link_fills_in_the_invited_address(client: Client) -> None:
    _, token = _invite()
    page = client.get(f"/invitations/{token}").content.decode()
    link = re.search(r'href="(/accounts/signup/\?[^"]+)"', page)
    assert link, page
    form = client.get(link.group(1).replace("&amp;", "&")).content.decode()
    assert f'value="{INVITEE}"' in form  # allauth's sign-up reads `email` from the query
