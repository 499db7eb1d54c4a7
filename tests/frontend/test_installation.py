"""The installation box (frontend/views/installation.py): why events are dropped, the fix,
and who may apply it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
from django.test import Client, TestCase

from accounts.models import Role, User
from events.clickhouse import ClickHouse
from sites import services
from sites.models import Site
from tests import factories
from tests.wsgi_client import post

pytestmark = pytest.mark.django_db

DOMAIN = "box-trail.org"
REFUSED = "staging.box-trail.net"
LISTED = "cdn.box-trail.net"  # the site's host name allowlist: REFUSED is not on it
HEADLESS = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/131.0.0.0"


def pageview(url: str) -> str:
    return json.dumps({"n": "pageview", "u": url, "d": DOMAIN})


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    return make_site(DOMAIN, extra_hostnames=[LISTED])


@pytest.fixture
def owner(site: Site) -> Client:
    return signed_in(site.organization.memberships.get().user)


@pytest.fixture
def viewer(site: Site) -> Client:
    return signed_in(factories.member(site.organization, Role.VIEWER))


@pytest.fixture
def stranger() -> Client:
    return signed_in(factories.organization().memberships.get().user)


def refuse(times: int) -> None:
    for i in range(times):
        assert post("/api/event", pageview(f"https://{REFUSED}/{i}")).dropped == (
            "hostname_not_allowed"
        )


def test_the_page_says_why_events_were_refused_and_offers_the_fix(
    site: Site, owner: Client
) -> None:
    refuse(12)
    page = owner.get(f"/sites/{DOMAIN}/").content.decode()
    assert "Waiting for the first event" in page
    assert f"12 events from {REFUSED} were refused: that host name is not allowed." in page
    assert f'action="/sites/{DOMAIN}/allow-hostname"' in page
    assert f'name="host" value="{REFUSED}"' in page and f"Allow {REFUSED}</button>" in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert f'hx-get="/sites/{DOMAIN}/installation/box"' in page
    assert "<script>" not in page.split("<main", 1)[1].split("</main>", 1)[0]
    assert " onclick=" not in page and " onsubmit=" not in page


def test_allowing_the_host_makes_its_next_event_count(site: Site, owner: Client) -> None:
    refuse(1)
    # the change's after-commit announcement reloads the ingest directory (run here: the
    # test's transaction never commits)
    with TestCase.captureOnCommitCallbacks(execute=True):
        answer = owner.post(f"/sites/{DOMAIN}/allow-hostname", {"host": REFUSED})
    assert answer.status_code == 302 and answer["Location"] == f"/sites/{DOMAIN}/"
    site.refresh_from_db()
    assert site.extra_hostnames == [LISTED, REFUSED]
    assert post("/api/event", pageview(f"https://{REFUSED}/next")).dropped is None
    assert f"{REFUSED} is allowed" in owner.get(f"/sites/{DOMAIN}/").content.decode()


@pytest.mark.parametrize("host", ["", "not a host", "http://", "x" * 300])
def test_a_bad_host_changes_nothing(site: Site, owner: Client, host: str) -> None:
    answer = owner.post(f"/sites/{DOMAIN}/allow-hostname", {"host": host}, follow=True)
    assert answer.status_code == 200
    assert answer.context["messages"] and list(answer.context["messages"])[0].level_tag == "error"
    site.refresh_from_db()
    assert site.extra_hostnames == [LISTED]


def test_a_viewer_sees_the_reason_but_no_button_and_cannot_post(site: Site, viewer: Client) -> None:
    refuse(2)
    box = viewer.get(f"/sites/{DOMAIN}/installation/box")
    assert box.status_code == 200
    text = box.content.decode()
    assert f"2 events from {REFUSED} were refused" in text
    assert "allow-hostname" not in text and "An owner or admin can allow it." in text
    assert viewer.post(f"/sites/{DOMAIN}/allow-hostname", {"host": REFUSED}).status_code == 403
    site.refresh_from_db()
    assert site.extra_hostnames == [LISTED]


def test_another_tenant_gets_404(site: Site, stranger: Client) -> None:
    refuse(1)
    assert stranger.get(f"/sites/{DOMAIN}/installation/box").status_code == 404
    assert stranger.post(f"/sites/{DOMAIN}/allow-hostname", {"host": REFUSED}).status_code == 404
    site.refresh_from_db()
    assert site.extra_hostnames == [LISTED]


def test_allowing_needs_post_and_a_signed_in_member(site: Site, owner: Client) -> None:
    assert owner.get(f"/sites/{DOMAIN}/allow-hostname").status_code == 405
    answer = Client().post(f"/sites/{DOMAIN}/allow-hostname", {"host": REFUSED})
    assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]
    checked = Client(enforce_csrf_checks=True)
    checked.force_login(site.organization.memberships.get().user)
    assert checked.post(f"/sites/{DOMAIN}/allow-hostname", {"host": REFUSED}).status_code == 403


def test_other_reasons_say_the_fix(site: Site, owner: Client) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):  # see the test above
        services.site_update(site=site, excluded_ips=["203.0.113.9"], honor_dnt=True)
    home = pageview(f"https://{DOMAIN}/")
    post("/api/event", home, user_agent=HEADLESS)
    post("/api/event", home, remote_addr="203.0.113.9")
    post("/api/event", home, headers={"DNT": "1"})
    post("/api/event", home, headers={"DNT": "1"})
    text = owner.get(f"/sites/{DOMAIN}/installation/box").content.decode()
    assert "1 event looked like a bot" in text and "headless" in text
    assert "1 event came from an IP address excluded in this site&#x27;s settings" in text
    assert "2 events came from a browser that sends Do Not Track" in text
    assert "honours it" in text
    assert text.count(f'href="/sites/{DOMAIN}/settings"') == 2  # the IP and DNT notices
    assert text.index("2 events") < text.index("1 event")  # the biggest first


def test_nothing_dropped_says_only_waiting(site: Site, owner: Client) -> None:
    text = owner.get(f"/sites/{DOMAIN}/installation/box").content.decode()
    assert "Waiting for the first event" in text and "were not counted" not in text


def test_the_box_stops_polling_at_the_first_event(
    site: Site, owner: Client, clickhouse: ClickHouse
) -> None:
    refuse(1)
    clickhouse.insert(
        "events", {"site_id": [site.id], "event_id": [str(uuid.uuid4())], "name": ["pageview"]}
    )
    box = owner.get(f"/sites/{DOMAIN}/installation/box")
    assert box.status_code == 286  # htmx: stop polling
    text = box.content.decode()
    assert "the snippet works" in text and "refused" not in text
