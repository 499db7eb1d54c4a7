"""Sign-up, email verification, log in/out, password reset and change (django-allauth)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.models import Membership, Role, User

pytestmark = pytest.mark.django_db

PASSWORD = "a-Long-enough-passphrase-7"


def _link(pattern: str) -> str:
    match = re.search(pattern, mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(0).replace("http://127.0.0.1:8000", "").replace("http://testserver", "")


def test_sign_up_verify_and_get_an_organization(client: Client) -> None:
    response = client.post(
        "/accounts/signup/",
        {"email": "New@Example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    user = User.objects.get(email__iexact="new@example.com")
    assert Membership.objects.get(user=user).role == Role.OWNER
    assert (
        "verify" in mail.outbox[-1].subject.lower() or "confirm" in mail.outbox[-1].subject.lower()
    )
    # Not verified yet: signing in is held at the verification step.
    other = Client()
    held = other.post("/accounts/login/", {"login": "new@example.com", "password": PASSWORD})
    assert held.status_code == 302 and "confirm-email" in held["Location"]
    assert other.get("/sites/").status_code == 302

    confirm = _link(r"https?://[^\s]+/accounts/confirm-email/[^\s]+/")
    assert client.get(confirm).status_code == 200
    assert client.post(confirm).status_code == 302
    assert client.get("/sites/").status_code == 200


def test_sign_up_bad_input(client: Client) -> None:
    User.objects.create_user(email="taken@example.com", password=PASSWORD)
    # A taken address is not revealed (enumeration protection): the page looks like
    # success, the owner of the address is told by email, and no account is created.
    taken = client.post(
        "/accounts/signup/",
        {"email": "taken@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert taken.status_code == 302
    assert mail.outbox[-1].to == ["taken@example.com"]
    assert "already" in mail.outbox[-1].body.lower()
    cases = [
        ({"email": "not-an-email", "password1": PASSWORD, "password2": PASSWORD}, "valid email"),
        ({"email": "a@example.com", "password1": "short", "password2": "short"}, "too short"),
        (
            {"email": "b@example.com", "password1": PASSWORD, "password2": PASSWORD + "x"},
            "same password",
        ),
    ]
    for data, message in cases:
        response = client.post("/accounts/signup/", data)
        assert response.status_code == 200
        assert message in response.content.decode(), message
    assert User.objects.count() == 1


def test_log_in_and_out_and_change_password(client: Client) -> None:
    user = User.objects.create_user(email="me@example.com", password=PASSWORD)
    user.emailaddress_set.create(email=user.email, verified=True, primary=True)
    wrong = client.post("/accounts/login/", {"login": "me@example.com", "password": "nope"})
    assert wrong.status_code == 200 and "not correct" in wrong.content.decode()
    assert (
        client.post(
            "/accounts/login/", {"login": "ME@example.com", "password": PASSWORD}
        ).status_code
        == 302
    )
    assert client.get("/sites/").status_code == 200
    changed = client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": PASSWORD + "!", "password2": PASSWORD + "!"},
    )
    assert changed.status_code == 302
    client.post("/accounts/logout/")
    assert client.get("/sites/").status_code == 302
    assert client.login(email="me@example.com", password=PASSWORD + "!")


def test_password_reset_by_email(client: Client) -> None:
    user = User.objects.create_user(email="forgot@example.com", password=PASSWORD)
    user.emailaddress_set.create(email=user.email, verified=True, primary=True)
    assert (
        client.post("/accounts/password/reset/", {"email": "forgot@example.com"}).status_code == 302
    )
    link = _link(r"https?://[^\s]+/accounts/password/reset/key/[^\s]+/")
    form = client.get(link, follow=True)
    assert form.status_code == 200
    action = form.redirect_chain[-1][0] if form.redirect_chain else link
    done = client.post(action, {"password1": "Brand-new-pass-42", "password2": "Brand-new-pass-42"})
    assert done.status_code == 302
    assert Client().login(email="forgot@example.com", password="Brand-new-pass-42")


def test_auth_pages_use_trails_layout(client: Client) -> None:
    for path in ("/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"):
        page = client.get(path).content.decode()
        assert "/static/trail/app.css" in page and 'class="brand"' in page, path
