"""The Destinations settings page without a browser: who may use it, what bad input says,
what the table's htmx refresh answers (the Chromium test is tests/browser/
test_destinations_page.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from accounts.models import Role
from events.destinations.models import Destination
from sites.models import Site
from tests import factories

pytestmark = pytest.mark.django_db

HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture(autouse=True)
def private_allowed() -> Iterator[None]:
    with override_settings(TRAIL=dataclasses.replace(settings.TRAIL, allow_private_webhooks=True)):
        yield


@pytest.fixture
def site() -> Site:
    return factories.site(factories.organization(), domain="dest-page.example.org")


@pytest.fixture
def owner_client(client: Any, site: Site) -> Any:
    client.force_login(site.organization.memberships.get().user)
    return client


def page(site: Site) -> str:
    return f"/sites/{site.domain}/destinations"


def test_add_pause_resume_delete_through_the_form(owner_client: Any, site: Site) -> None:
    answer = owner_client.post(
        page(site), {"action": "add", "type": "webhook", "url": HOOK, "secret": "shh-123"}
    )
    assert answer.status_code == 302
    destination = Destination.objects.get()
    assert destination.secret == "shh-123" and destination.url == HOOK
    shown = owner_client.get(page(site))
    assert shown.status_code == 200 and b"shh-123" not in shown.content
    assert b"HTTP endpoint (signed)" in shown.content
    owner_client.post(page(site), {"action": "pause", "id": destination.pk})
    assert Destination.objects.get().state == "paused"
    owner_client.post(page(site), {"action": "resume", "id": destination.pk})
    assert Destination.objects.get().state == "active"
    fragment = owner_client.get(page(site), HTTP_HX_REQUEST="true")
    assert fragment.content.decode().startswith('<tbody id="destination-rows"')
    owner_client.post(page(site), {"action": "delete", "id": destination.pk})
    assert not Destination.objects.exists()


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"action": "add", "type": "webhook", "url": "ftp://x.example/"}, "URL: only http"),
        ({"action": "add", "type": "webhook", "url": ""}, "URL: required"),
        ({"action": "add", "type": "mixpanel", "url": HOOK}, "Project token: required"),
        ({"action": "add", "type": "pigeon", "url": HOOK}, "Type: expected one of"),
        ({"action": "explode"}, "Action: choose add, pause, resume or delete"),
        ({"action": "pause", "id": "1; DROP TABLE"}, "Id: no such destination"),
    ],
)
def test_bad_input_is_said_on_the_page(
    owner_client: Any, site: Site, form: dict[str, str], message: str
) -> None:
    answer = owner_client.post(page(site), form)
    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert not Destination.objects.exists()


def test_viewers_are_refused_and_strangers_see_no_such_site(client: Any, site: Site) -> None:
    client.force_login(factories.member(site.organization, Role.VIEWER))
    assert client.get(page(site)).status_code == 403
    stranger = factories.organization().memberships.get().user
    client.force_login(stranger)
    assert client.get(page(site)).status_code == 404
    answer = client.post(page(site), {"action": "add", "type": "webhook", "url": HOOK})
    assert answer.status_code == 404 and not Destination.objects.exists()


def test_another_sites_destination_cannot_be_touched(owner_client: Any, site: Site) -> None:
    other = factories.site(site.organization, domain="dest-page-other.example.org")
    theirs = Destination.objects.create(site=other, type="webhook", url=HOOK)
    answer = owner_client.post(page(site), {"action": "delete", "id": theirs.pk})
    assert answer.status_code == 404
    assert Destination.objects.filter(pk=theirs.pk).exists()
