"""Users: an operator's `createsuperuser` account can log in at once."""

from __future__ import annotations

import io

import pytest
from allauth.account.models import EmailAddress
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import User

pytestmark = pytest.mark.django_db

EMAIL = "Operator@Example.com"
PASSWORD = "Correct-Horse-Battery-Staple-42"


def _createsuperuser(monkeypatch: pytest.MonkeyPatch, *args: str) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command("createsuperuser", *args, stdout=io.StringIO(), stderr=io.StringIO())


def test_createsuperuser_address_is_verified_and_the_first_login_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _createsuperuser(monkeypatch, "--noinput", "--email", EMAIL)
    user = User.objects.get()
    assert (user.email, user.is_superuser, user.is_staff) == ("operator@example.com", True, True)
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.verified, address.primary) == (user.email, True, True)

    client = Client()
    response = client.post("/accounts/login/", {"login": EMAIL, "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1] == ("/sites/", 302)
    page = response.content.decode()
    assert "Verify Your Email Address" not in page
    assert client.get("/sites/").status_code == 200


def test_a_signed_up_address_still_needs_its_confirmation(client: Client) -> None:
    response = client.post(
        "/accounts/signup/",
        {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD},
        follow=True,
    )
    assert "Verify Your Email Address" in response.content.decode()
    assert not EmailAddress.objects.get(email="new@example.com").verified


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--noinput",), "You must use --email with --noinput"),
        (("--noinput", "--email", ""), "Email address cannot be blank"),
    ],
)
def test_createsuperuser_bad_arguments_create_nothing(
    monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        _createsuperuser(monkeypatch, *args)
    assert not User.objects.exists() and not EmailAddress.objects.exists()


def test_a_second_superuser_with_the_same_address_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _createsuperuser(monkeypatch, "--noinput", "--email", EMAIL)
    with pytest.raises(CommandError, match="already taken"):
        _createsuperuser(monkeypatch, "--noinput", "--email", EMAIL.lower())
    assert EmailAddress.objects.count() == 1
