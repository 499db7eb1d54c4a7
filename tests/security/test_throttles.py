"""Throttles, tried as an attacker would over HTTP (issue 23, points 3, 4 and 7).

Behind a trusted proxy every request comes from the proxy's address; the limits must count
the client the proxy names (`common.clients`), and a client that reaches Trail directly must
not dodge them by sending its own `X-Forwarded-For`. Cache-backed counts are cleared
between tests by tests/conftest.py.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from ipaddress import ip_network
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client

from accounts import ratelimit
from accounts.models import User
from sites import services as sites
from sites.models import SharedLink, Site
from tests import factories

pytestmark = pytest.mark.django_db

PASSWORD = "a-Long-enough-passphrase-7"
TOO_MANY = "Too many failed login attempts"


@pytest.fixture(autouse=True)
def one_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rate limiter's clock stands still for a test: its windows are aligned on the
    epoch, and ten guesses sent across a minute's end would count in two of them."""
    now = time.time()
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: now))


@pytest.fixture
def behind_proxy(settings: Any) -> None:
    """The test client's peer (127.0.0.1) is the trusted reverse proxy."""
    proxies = (ip_network("127.0.0.1/32"),)
    settings.TRAIL = replace(
        settings.TRAIL, ingest=replace(settings.TRAIL.ingest, trusted_proxies=proxies)
    )


def via(ip: str) -> Client:
    """A browser at `ip`, as the proxy in front of Trail names it."""
    return Client(HTTP_X_FORWARDED_FOR=ip)


def verified_user(email: str, **extra: Any) -> User:
    user = User.objects.create_user(email=email, password=PASSWORD, **extra)
    user.emailaddress_set.create(email=email, verified=True, primary=True)
    return user


def log_in(client: Client, email: str, password: str = PASSWORD, next_url: str = "") -> Any:
    path = f"/accounts/login/?next={next_url}" if next_url else "/accounts/login/"
    return client.post(path, {"login": email, "password": password})


def guesses(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The guessing log lines (Django also logs each 401)."""
    return [r for r in caplog.records if r.name == "accounts.guessing"]


# Logins (point 3)


def test_failed_logins_lock_out_the_client_not_everyone_behind_the_proxy(
    behind_proxy: None,
) -> None:
    verified_user("a@example.com")
    verified_user("b@example.com")
    attacker = via("198.51.100.7")
    for n in range(10):  # ten addresses, so that no account's own limit is reached
        wrong = log_in(attacker, f"nobody{n}@example.com", "wrong")
        assert wrong.status_code == 200 and "not correct" in wrong.content.decode()
    held = log_in(attacker, "a@example.com")  # even the right password, from that client
    assert held.status_code in (200, 429) and TOO_MANY in held.content.decode()
    assert log_in(via("203.0.113.9"), "b@example.com").status_code == 302


def test_a_forged_forwarded_for_does_not_dodge_the_login_limit(settings: Any) -> None:
    """A peer that is not a trusted proxy: its `X-Forwarded-For` is ignored (the default
    list is empty; here a proxy network that is not this peer's)."""
    settings.TRAIL = replace(
        settings.TRAIL,
        ingest=replace(settings.TRAIL.ingest, trusted_proxies=(ip_network("10.0.0.0/8"),)),
    )
    verified_user("a@example.com")
    for n in range(10):
        log_in(via(f"192.0.2.{n}"), f"nobody{n}@example.com", "wrong")
    held = log_in(via("192.0.2.200"), "a@example.com")
    assert TOO_MANY in held.content.decode()


# The Django admin (point 4)


def test_admin_login_never_signs_in_by_itself() -> None:
    verified_user("root@example.com", is_staff=True, is_superuser=True)
    client = Client()
    page = client.get("/admin/login/?next=/admin/")
    assert page.status_code == 302 and page["Location"] == "/accounts/login/?next=%2Fadmin%2F"
    posted = client.post("/admin/login/", {"username": "root@example.com", "password": PASSWORD})
    assert posted.status_code == 302 and posted["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session
    admin = client.get("/admin/")
    assert admin.status_code == 302 and admin["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("clients", [1, 25])
def test_25_wrong_superuser_passwords_lock_the_account(behind_proxy: None, clients: int) -> None:
    """From one client (its own limit) or from 25 (the account's limit), 25 wrong
    passwords and then the right one: not signed in."""
    verified_user("root@example.com", is_staff=True, is_superuser=True)
    answers = [
        log_in(via(f"198.51.100.{n % clients}"), "root@example.com", f"guess-{n}")
        for n in range(25)
    ]
    assert all(a.status_code in (200, 429) for a in answers)
    assert TOO_MANY in answers[-1].content.decode() or answers[-1].status_code == 429
    client = via("203.0.113.50")
    right = log_in(client, "root@example.com", next_url="/admin/")
    assert right.status_code in (200, 429) and "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_the_admin_through_the_trail_login() -> None:
    verified_user("root@example.com", is_staff=True, is_superuser=True)
    client = Client()
    signed_in = log_in(client, "root@example.com", next_url="/admin/")
    assert signed_in.status_code == 302 and signed_in["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_an_unverified_staff_address_is_not_let_into_the_admin() -> None:
    User.objects.create_user(email="staff@example.com", password=PASSWORD, is_staff=True)
    client = Client()
    held = log_in(client, "staff@example.com", next_url="/admin/")
    assert held.status_code == 302 and "confirm-email" in held["Location"]
    assert "_auth_user_id" not in client.session
    admin = client.get("/admin/")
    assert admin.status_code == 302 and admin["Location"].startswith("/admin/login/")


# API keys (point 7)


def bearer(raw: str, ip: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}", "HTTP_X_FORWARDED_FOR": ip}


def wrong_key(raw: str, n: int = 0) -> str:
    """The key's prefix with a wrong secret: a guess at that key."""
    prefix = raw.split("_")[1]
    return f"trail_{prefix}_{'x' * 42}{n % 10}"


def test_wrong_api_keys_are_limited_per_client(
    behind_proxy: None, caplog: pytest.LogCaptureFixture
) -> None:
    _, raw = factories.api_key(factories.organization())
    client = Client()
    with caplog.at_level(logging.WARNING, logger="accounts.guessing"):
        statuses = [
            client.get(
                "/api/v1/sites", **bearer(f"trail_guess{n:03d}_{'y' * 43}", "198.51.100.7")
            ).status_code
            for n in range(20)
        ]
    assert statuses == [401] * 20
    assert len(guesses(caplog)) == 20  # one line per failure, without the key
    assert all("y" * 43 not in r.getMessage() for r in guesses(caplog))
    assert all("198.51.100.7" not in r.getMessage() for r in guesses(caplog))
    limited = client.get("/api/v1/sites", **bearer(raw, "198.51.100.7"))  # even the right one
    assert limited.status_code == 429 and 1 <= int(limited["Retry-After"]) <= 60
    assert "too many wrong API keys" in limited.json()["error"]
    assert client.get("/api/v1/sites", **bearer(raw, "203.0.113.9")).status_code == 200
    assert client.get("/api/v1/sites", **bearer("nonsense", "203.0.113.9")).status_code == 401


def test_wrong_api_keys_are_limited_per_key_against_many_clients(
    behind_proxy: None, caplog: pytest.LogCaptureFixture
) -> None:
    key, raw = factories.api_key(factories.organization())
    client = Client()
    with caplog.at_level(logging.WARNING, logger="accounts.guessing"):
        for n in range(60):  # 60 clients, one guess each: no client's own limit is reached
            guess = client.get("/api/v1/sites", **bearer(wrong_key(raw, n), f"10.9.{n}.1"))
            assert guess.status_code == 401
    secret = raw.split("_", 2)[2]
    assert all(key.prefix in r.getMessage() for r in guesses(caplog))
    assert all(
        secret not in r.getMessage() and "x" * 42 not in r.getMessage() for r in guesses(caplog)
    )
    held = client.get("/api/v1/sites", **bearer(raw, "203.0.113.9"))
    assert held.status_code == 429 and int(held["Retry-After"]) >= 1
    other_key, other_raw = factories.api_key(factories.organization())
    assert client.get("/api/v1/sites", **bearer(other_raw, "203.0.113.9")).status_code == 200


def test_the_right_api_key_within_the_limit_works(behind_proxy: None) -> None:
    _, raw = factories.api_key(factories.organization())
    client = Client()
    for n in range(19):
        assert (
            client.get("/api/v1/sites", **bearer(wrong_key(raw, n), "198.51.100.7")).status_code
            == 401
        )
    assert client.get("/api/v1/sites", **bearer(raw, "198.51.100.7")).status_code == 200
    assert client.get("/api/v1/sites", **bearer(raw, "198.51.100.7")).status_code == 200


def test_a_forged_forwarded_for_does_not_dodge_the_api_key_limit() -> None:
    """No trusted proxy: every guess is the peer's, whatever it claims."""
    _, raw = factories.api_key(factories.organization())
    client = Client()
    for n in range(20):
        client.get("/api/v1/sites", **bearer(f"trail_g{n:03d}_{'y' * 43}", f"192.0.2.{n}"))
    assert client.get("/api/v1/sites", **bearer(raw, "192.0.2.200")).status_code == 429


# Shared-link passwords (point 7)


@pytest.fixture
def locked_link(make_site: Any) -> tuple[Site, SharedLink]:
    site = make_site("guarded.example.net")
    return site, sites.shared_link_create(site=site, name="board", password="secret-pass-1")


def unlock(link: tuple[Site, SharedLink], password: str, ip: str) -> Any:
    site, shared = link
    return via(ip).post(f"/share/{site.domain}?auth={shared.slug}", {"password": password})


def test_wrong_link_passwords_are_limited_per_client(
    behind_proxy: None, locked_link: tuple[Site, SharedLink], caplog: pytest.LogCaptureFixture
) -> None:
    site, shared = locked_link
    with caplog.at_level(logging.WARNING, logger="accounts.guessing"):
        statuses = [
            unlock(locked_link, f"guess-{n}", "198.51.100.7").status_code for n in range(10)
        ]
    assert statuses == [401] * 10
    assert len(guesses(caplog)) == 10
    for record in guesses(caplog):
        message = record.getMessage()
        assert f"link:{shared.pk}" in message
        assert "guess-" not in message and shared.slug not in message
        assert "198.51.100.7" not in message
    limited = unlock(locked_link, "secret-pass-1", "198.51.100.7")  # even the right one
    assert limited.status_code == 429 and 1 <= int(limited["Retry-After"]) <= 60
    assert "Too many wrong passwords" in limited.content.decode()
    assert unlock(locked_link, "secret-pass-1", "203.0.113.9").status_code == 200


def test_wrong_link_passwords_are_limited_per_link_against_many_clients(
    behind_proxy: None, locked_link: tuple[Site, SharedLink], make_site: Any
) -> None:
    for n in range(30):  # 30 clients, one guess each
        assert unlock(locked_link, f"guess-{n}", f"10.9.{n}.1").status_code == 401
    held = unlock(locked_link, "secret-pass-1", "203.0.113.9")
    assert held.status_code == 429 and 1 <= int(held["Retry-After"]) <= 900
    other_site = make_site("other-guarded.example.net")
    other = sites.shared_link_create(site=other_site, name="b", password="secret-pass-2")
    assert unlock((other_site, other), "secret-pass-2", "203.0.113.9").status_code == 200


def test_the_right_link_password_within_the_limit_works(
    behind_proxy: None, locked_link: tuple[Site, SharedLink]
) -> None:
    for n in range(9):
        assert unlock(locked_link, f"guess-{n}", "198.51.100.7").status_code == 401
    assert unlock(locked_link, "secret-pass-1", "198.51.100.7").status_code == 200


def test_a_forged_forwarded_for_does_not_dodge_the_link_limit(
    locked_link: tuple[Site, SharedLink],
) -> None:
    for n in range(10):
        unlock(locked_link, f"guess-{n}", f"192.0.2.{n}")
    assert unlock(locked_link, "secret-pass-1", "192.0.2.200").status_code == 429
