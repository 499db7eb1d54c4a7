"""Every HTML page carries the Content-Security-Policy and the headers of Django's security
checklist, and holds no code the policy would refuse: no inline script, no `on…=`
attribute, no `style=` attribute or `<style>` block. `check --deploy` is clean with
production settings. (That nothing in the dashboard still needs inline code, in a real
browser: tests/browser/test_dashboard_flow.py.)"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable
from dataclasses import replace
from html.parser import HTMLParser
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from sites import services
from sites.models import Site
from tests import factories
from tests.helpers import child_env, manage
from tests.reports.conftest import FIREFOX, hit
from trail.security import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.django_db

NOW = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)


class InlineCode(HTMLParser):
    """What in a page the policy would refuse to run or apply, and the htmx fragment URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[str] = []
        self.fragments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script" and not named.get("src"):
            if named.get("type") != "application/json":
                self.refused.append("<script> without src")
        if tag == "style":
            self.refused.append("<style>")
        for name, _ in attrs:
            if name.startswith("on") or name == "style":
                self.refused.append(f"<{tag} {name}=…>")
        if named.get("hx-get"):
            self.fragments.append(str(named["hx-get"]))


def inline_code(html: str) -> InlineCode:
    parser = InlineCode()
    parser.feed(html)
    parser.close()
    return parser


def test_the_parser_finds_what_the_policy_refuses() -> None:
    page = inline_code(
        '<script>alert(1)</script><script src="/static/a.js"></script>'
        '<script type="application/json" id="d">{}</script><style>p{}</style>'
        '<button onclick="go()">x</button><tr style="--share: 5%"><div hx-get="/f">'
    )
    assert page.refused == ["<script> without src", "<style>", "<button onclick=…>", "<tr style=…>"]
    assert page.fragments == ["/f"]


@pytest.fixture
def site(make_site: Callable[..., Site], seed: Callable[..., None]) -> Site:
    site = make_site("csp-trail.com")
    visitor = {"ip": "81.2.69.1", "user_agent": FIREFOX}
    seed(
        site,
        [
            hit(
                site,
                NOW - dt.timedelta(minutes=9),
                "/",
                referrer="https://www.google.com/",
                **visitor,
            ),
            hit(site, NOW - dt.timedelta(minutes=8), "/pricing", **visitor),
        ],
    )
    return site


def assert_safe(response: Any, path: str) -> InlineCode:
    assert response.status_code == 200, path
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
    assert response["X-Frame-Options"] == "DENY", path
    assert response["X-Content-Type-Options"] == "nosniff", path
    assert response["Referrer-Policy"] == "same-origin", path
    assert response["Cross-Origin-Opener-Policy"] == "same-origin", path
    page = inline_code(response.content.decode())
    assert page.refused == [], f"{path}: {page.refused}"
    return page


def test_signed_out_pages(client: Client, site: Site) -> None:
    link = services.shared_link_create(site=site, name="board")
    shared = f"/share/{site.domain}?auth={link.slug}&period=7d"
    for path in (
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
        "/docs/tracker",
        "/api/docs/",
        shared,
    ):
        page = assert_safe(client.get(path), path)
    # the shared dashboard's panels, as htmx loads them
    assert page.fragments
    for fragment in page.fragments:
        assert_safe(client.get(fragment), fragment)


def test_signed_in_pages_and_dashboard_panels(client: Client, site: Site) -> None:
    owner = site.organization.memberships.get().user
    client.force_login(owner)
    empty = factories.site(site.organization, "csp-empty-trail.com")
    base = f"/sites/{site.domain}"
    for path in (
        "/sites/",
        "/sites/new",
        f"/sites/{empty.domain}/",  # the first-run page with the snippet
        f"{base}/settings",
        f"{base}/goals",
        f"{base}/funnels",
        f"{base}/shared-links",
        "/organization/",
        "/settings/api-keys",
        "/accounts/password/change/",
        "/accounts/email/",
    ):
        assert_safe(client.get(path), path)
    dashboard = assert_safe(client.get(f"{base}/?period=7d"), base)
    assert any("/panel/sources" in f for f in dashboard.fragments)
    for fragment in dashboard.fragments:
        assert_safe(client.get(fragment), fragment)
    # a panel's bars travel as data, for the dashboard's script to paint
    sources = client.get(f"{base}/panel/sources?period=7d").content.decode()
    assert re.search(r'<tr data-share="100">', sources)


def test_error_pages_and_json_carry_the_policy(client: Client) -> None:
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert missing["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert inline_code(missing.content.decode()).refused == []
    assert client.get("/healthz")["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_the_tracker_script_keeps_its_cross_origin_answer(client: Client) -> None:
    script = client.get("/js/trail.js", HTTP_ORIGIN="https://customer-shop.com")
    assert script.status_code == 200
    assert script["Content-Type"].startswith(("application/javascript", "text/javascript"))
    assert script.get("Access-Control-Allow-Origin") == "*"


def test_a_forwarded_scheme_counts_only_from_a_trusted_proxy(client: Client, settings: Any) -> None:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    # the test client's peer is 127.0.0.1, not a trusted proxy (the list is empty)
    forged = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert forged.status_code == 301
    assert forged["Location"].startswith("https://")
    assert client.get("/healthz").status_code in (200, 503)  # probes are not redirected


def test_a_trusted_proxy_says_https(client: Client, settings: Any) -> None:
    proxies = (ip_network("127.0.0.1/32"),)  # the test client's peer
    settings.TRAIL = replace(
        settings.TRAIL, ingest=replace(settings.TRAIL.ingest, trusted_proxies=proxies)
    )
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    secure = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"].startswith("max-age=3600")
    assert client.get("/accounts/login/").status_code == 301  # plain http: sent to https


def production_env(var: Path, **extra: str) -> dict[str, str]:
    return child_env(
        var,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(60),
        TRAIL_BASE_URL="https://analytics.example.com",
        **extra,
    )


def test_check_deploy_is_clean_behind_a_trusted_proxy(tmp_path: Path) -> None:
    done = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        env=production_env(tmp_path, TRAIL_TRUSTED_PROXIES="10.0.0.0/8"),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout
    assert "WARNINGS" not in done.stdout + done.stderr


def test_check_deploy_without_a_proxy_asks_for_the_https_redirect(tmp_path: Path) -> None:
    """Without TRAIL_TRUSTED_PROXIES Trail cannot tell an https request from an http one, so
    it cannot redirect: the one warning left says so (docs/architecture.md)."""
    done = manage("check", "--deploy", env=production_env(tmp_path))
    output = done.stdout + done.stderr
    assert re.findall(r"\((\w+\.W\d+)\)", output) == ["security.W008"]
