"""The installation box under Plausible's hostname rule (docs/hostnames.md): without an
allowlist nothing is refused for its host; with one, an app's or another host's events are
explained, and allowing the host lets the next one in."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.test import Client, TestCase

from sites.models import Site
from tests.wsgi_client import post

pytestmark = pytest.mark.django_db

DOMAIN = "box-rule-trail.org"


def pageview(url: str) -> str:
    return json.dumps({"n": "pageview", "u": url, "d": DOMAIN})


def owner_of(site: Site) -> Client:
    client = Client()
    client.force_login(site.organization.memberships.get().user)
    return client


def test_without_an_allowlist_nothing_is_refused_for_its_host(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(DOMAIN)
    urls = ["https://staging.elsewhere-trail.net/", "app://localhost/home", "file:///a.html"]
    assert [post("/api/event", pageview(url)).dropped for url in urls] == [None] * len(urls)
    box = owner_of(site).get(f"/sites/{DOMAIN}/installation/box").content.decode()
    assert "refused" not in box and "were not counted" not in box


def test_an_apps_events_refused_by_the_allowlist_are_explained_and_allowed(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(DOMAIN, extra_hostnames=["*.cdn-rule-trail.net"])
    owner = owner_of(site)
    sent = ["app://localhost/home", "capacitor://localhost/x", "https://img.cdn-rule-trail.net/"]
    dropped = [post("/api/event", pageview(url)).dropped for url in sent]
    assert dropped == ["hostname_not_allowed", "hostname_not_allowed", None]
    box = owner.get(f"/sites/{DOMAIN}/installation/box").content.decode()
    refused = dropped.count("hostname_not_allowed")
    assert f"{refused} events from localhost were refused: that host name is not allowed." in box
    assert 'name="host" value="localhost"' in box and "Allow localhost</button>" in box

    with TestCase.captureOnCommitCallbacks(execute=True):
        answer = owner.post(f"/sites/{DOMAIN}/allow-hostname", {"host": "localhost"})
    assert answer.status_code == 302
    site.refresh_from_db()
    assert site.extra_hostnames == ["*.cdn-rule-trail.net", "localhost"]
    assert post("/api/event", pageview("app://localhost/home")).dropped is None
