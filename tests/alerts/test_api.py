"""The alerts API: the rule's life (create, list, read, change, delete, firings, test),
secrets never shown, every bad field a 400 naming it, another tenant's site or rule 404,
viewers and read keys refused writes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from accounts.models import Role
from alerts.models import AlertFiring, AlertRule
from alerts.rules import MAX_RULES_PER_SITE, PRESETS
from common.outbound import verify
from sites.models import Goal, Site
from tests import factories
from tests.alerts.conftest import SECRET, Inbox, MakeSite, Receiver, api_path, call, manage_key

pytestmark = pytest.mark.django_db

SPIKE = {
    "name": "spike",
    "metric": "visitors",
    "window": "5m",
    "condition": "above",
    "threshold": 3,
    "filters": [],
    "channels": [{"type": "email", "to": "ops@example.com"}],
}


def create(client: Any, site: Site, body: Any, key: str | None = None) -> Any:
    return call(client, "POST", api_path(site), body, key=key or manage_key(site))


def refused(answer: Any, field: str) -> str:
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert error.startswith(f"{field}:"), error
    return str(error)


def test_life_of_a_rule(client: Any, shop: Site, receiver: Receiver, private_allowed: None) -> None:
    key = manage_key(shop)
    body = {
        **SPIKE,
        "channels": [
            {"type": "email", "to": "ops@example.com"},
            {"type": "webhook", "url": receiver.url, "secret": SECRET},
        ],
    }
    made = create(client, shop, body, key)
    assert made.status_code == 201, made.content
    shown = made.json()
    assert shown["channels"] == [
        {"type": "email", "to": "ops@example.com"},
        {"type": "webhook", "url": receiver.url, "format": "json"},
    ]
    assert SECRET not in made.content.decode()
    assert (shown["state"], shown["cooldown"], shown["enabled"], shown["goal"]) == (
        "ok",
        60,
        True,
        None,
    )
    assert AlertRule.objects.get(pk=shown["id"]).channels[1]["secret"] == SECRET  # kept
    listed = call(client, "GET", api_path(shop), key=key)
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()["alerts"]] == [shown["id"]]
    assert SECRET not in listed.content.decode()
    one = call(client, "GET", api_path(shop, shown["id"]), key=key)
    assert one.json() == shown

    changed = call(
        client, "PATCH", api_path(shop, shown["id"]), {"threshold": 10, "cooldown": 5}, key
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["threshold"], changed.json()["cooldown"]) == (10, 5)
    assert changed.json()["channels"] == shown["channels"]  # untouched
    assert AlertRule.objects.get(pk=shown["id"]).channels[1]["secret"] == SECRET

    assert call(client, "GET", api_path(shop, shown["id"], "firings"), key=key).json() == {
        "firings": []
    }
    deleted = call(client, "DELETE", api_path(shop, shown["id"]), key=key)
    assert deleted.status_code == 204
    assert call(client, "GET", api_path(shop, shown["id"]), key=key).status_code == 404
    assert not AlertRule.objects.filter(pk=shown["id"]).exists()


def test_send_test_through_every_channel(
    client: Any, shop: Site, smtp: Inbox, receiver: Receiver, private_allowed: None
) -> None:
    key = manage_key(shop)
    body = {
        **SPIKE,
        "channels": [
            *SPIKE["channels"],
            {"type": "webhook", "url": receiver.url, "secret": SECRET, "format": "slack"},
        ],
    }
    rule_id = create(client, shop, body, key).json()["id"]
    answer = call(client, "POST", api_path(shop, rule_id, "test"), None, key)
    assert answer.status_code == 201, answer.content
    assert answer.json()["kind"] == "test"
    assert {d["status"] for d in answer.json()["deliveries"]} == {"sent"}
    assert len(smtp.mails) == 1 and len(receiver.requests) == 1
    request = receiver.requests[0]
    assert verify(SECRET, request.body, request.headers["X-Trail-Signature"])
    assert "spike (test)" in json.loads(request.body)["text"]  # Slack's shape
    assert AlertRule.objects.get(pk=rule_id).state == "ok"
    assert AlertFiring.objects.filter(rule_id=rule_id, kind="test").count() == 1


def test_test_without_channels_is_400(client: Any, shop: Site) -> None:
    rule_id = create(client, shop, {**SPIKE, "channels": []}).json()["id"]
    refused(
        call(client, "POST", api_path(shop, rule_id, "test"), None, manage_key(shop)), "channels"
    )


def test_goal_metrics_take_a_goal(client: Any, shop: Site) -> None:
    goal = Goal.objects.create(
        site=shop, kind=Goal.Kind.EVENT, value="Signup", display_name="Signup"
    )
    by_name = create(client, shop, {**SPIKE, "metric": "conversions", "goal": "Signup"})
    assert by_name.status_code == 201 and by_name.json()["goal"] == "Signup"
    by_id = create(client, shop, {**SPIKE, "metric": "conversion_rate", "goal": goal.pk})
    assert by_id.status_code == 201 and by_id.json()["goal"] == "Signup"
    refused(create(client, shop, {**SPIKE, "metric": "conversions"}), "goal")
    refused(create(client, shop, {**SPIKE, "metric": "conversions", "goal": "Nope"}), "goal")
    refused(create(client, shop, {**SPIKE, "goal": "Signup"}), "goal")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_valid_rules(client: Any, shop: Site, name: str) -> None:
    answer = create(client, shop, PRESETS[name])
    assert answer.status_code == 201, answer.content


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"metric": "revenue"}, "metric"),
        ({"metric": None}, "metric"),
        ({"metric": ["visitors"]}, "metric"),
        ({"window": "5"}, "window"),
        ({"window": "5s"}, "window"),
        ({"window": "0m"}, "window"),
        ({"window": "-5m"}, "window"),
        ({"window": "32d"}, "window"),
        ({"window": 5}, "window"),
        ({"window": "5m; DROP TABLE events"}, "window"),
        ({"metric": "current_visitors", "window": "1h"}, "window"),
        ({"condition": "equals"}, "condition"),
        ({"condition": "change_up", "threshold": 0}, "threshold"),
        ({"threshold": "3"}, "threshold"),
        ({"threshold": True}, "threshold"),
        ({"threshold": 1e300}, "threshold"),
        ({"cooldown": -1}, "cooldown"),
        ({"cooldown": 1.5}, "cooldown"),
        ({"cooldown": 7 * 24 * 60 + 1}, "cooldown"),
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"enabled": "yes"}, "enabled"),
        ({"filters": "visit:country=FR"}, "filters"),
        ({"filters": [["is", "visit:planet", ["Mars"]]]}, "filters[0][1]"),
        ({"filters": [["resembles", "event:page", ["/"]]]}, "filters[0][0]"),
        ({"filters": [["is", "event:page"]]}, "filters[0]"),
        ({"filters": [["is", "event:goal", ["No such goal"]]]}, "filters[0][2][0]"),
        ({"filters": [["is", "event:page", ["/"]]] * 21}, "filters"),
        ({"channels": "ops@example.com"}, "channels"),
        ({"channels": [{"type": "sms", "to": "+1555"}]}, "channels[0].type"),
        ({"channels": [{"type": "email", "to": "not an address"}]}, "channels[0].to"),
        ({"channels": [{"type": "webhook", "url": "ftp://example.com/"}]}, "channels[0].url"),
        ({"channels": [{"type": "webhook", "url": "http://127.0.0.1:9/hook"}]}, "channels[0].url"),
        ({"channels": [{"type": "webhook", "url": "http://169.254.169.254/"}]}, "channels[0].url"),
        ({"channels": [{"type": "email", "to": "a@example.com"}] * 11}, "channels"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_fields_are_400_naming_them(
    client: Any, shop: Site, change: dict[str, Any], field: str
) -> None:
    refused(create(client, shop, {**SPIKE, **change}), field)
    assert not AlertRule.objects.filter(site=shop).exists()


@pytest.mark.parametrize("missing", ["name", "metric", "window", "condition", "threshold"])
def test_required_fields(client: Any, shop: Site, missing: str) -> None:
    body = {k: v for k, v in SPIKE.items() if k != missing}
    refused(create(client, shop, body), missing)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"{", "body"),
        (b"[]", "body"),
        (b'"spike"', "body"),
        (b'{"name": "\\ud800"}', "body"),
        (json.dumps({**SPIKE, "name": "x" * 70_000}).encode(), "body"),
    ],
)
def test_malformed_bodies_are_400(client: Any, shop: Site, raw: bytes, says: str) -> None:
    refused(create(client, shop, raw), says)


def test_a_bad_patch_changes_nothing(client: Any, shop: Site) -> None:
    key = manage_key(shop)
    rule_id = create(client, shop, SPIKE, key).json()["id"]
    refused(
        call(client, "PATCH", api_path(shop, rule_id), {"window": "5y", "threshold": 9}, key),
        "window",
    )
    refused(call(client, "PATCH", api_path(shop, rule_id), {"metric": "conversions"}, key), "goal")
    assert AlertRule.objects.get(pk=rule_id).threshold == 3


def test_rules_per_site_are_capped(client: Any, shop: Site) -> None:
    AlertRule.objects.bulk_create(
        AlertRule(
            site=shop, name=f"r{i}", metric="visitors", window="5m", condition="above", threshold=1
        )
        for i in range(MAX_RULES_PER_SITE)
    )
    refused(create(client, shop, SPIKE), "body")


def test_another_tenants_site_and_rules_are_404(client: Any, make_site: MakeSite) -> None:
    mine, theirs = make_site("mine.alerts.example"), make_site("theirs.alerts.example")
    their_key = manage_key(theirs)
    my_key = manage_key(mine)
    their_rule = create(client, theirs, SPIKE, their_key).json()["id"]
    my_rule = create(client, mine, SPIKE, my_key).json()["id"]
    for method, path, body in [
        ("GET", api_path(theirs), None),
        ("POST", api_path(theirs), SPIKE),
        ("GET", api_path(theirs, their_rule), None),
        ("PATCH", api_path(theirs, their_rule), {"threshold": 1}),
        ("DELETE", api_path(theirs, their_rule), None),
        ("GET", api_path(theirs, their_rule, "firings"), None),
        ("POST", api_path(theirs, their_rule, "test"), None),
        # their rule's id under my site: not mine either
        ("GET", api_path(mine, their_rule), None),
        ("PATCH", api_path(mine, their_rule), {"threshold": 1}),
        ("DELETE", api_path(mine, their_rule), None),
        ("POST", api_path(mine, their_rule, "test"), None),
        ("GET", api_path(mine, "not-a-number"), None),
        ("GET", api_path(mine, "99999999999999999999999"), None),
        ("GET", "/api/v1/sites/nonexistent.example/alerts", None),
    ]:
        answer = call(client, method, path, body, key=my_key)
        assert answer.status_code == 404, (method, path, answer.content)
        assert answer.json() == {"error": "not found"}
    assert AlertRule.objects.get(pk=their_rule).threshold == 3
    assert AlertRule.objects.filter(site=theirs).count() == 1
    assert call(client, "GET", api_path(mine, my_rule), key=my_key).status_code == 200


def test_signed_in_members_read_and_owners_write(client: Any, shop: Site) -> None:
    viewer = factories.member(shop.organization, Role.VIEWER)
    admin = factories.member(shop.organization, Role.ADMIN)
    outsider = factories.user()
    client.force_login(viewer)
    assert call(client, "GET", api_path(shop)).status_code == 200
    answer = call(client, "POST", api_path(shop), SPIKE)
    assert answer.status_code == 403, answer.content
    client.force_login(admin)
    assert call(client, "POST", api_path(shop), SPIKE).status_code == 201
    client.force_login(outsider)
    assert call(client, "GET", api_path(shop)).status_code == 404
    client.logout()
    assert call(client, "GET", api_path(shop)).status_code in (401, 403)


def test_key_scopes(client: Any, shop: Site) -> None:
    _, read = factories.api_key(shop.organization, scopes=("sites:read",))
    _, stats = factories.api_key(shop.organization, scopes=("stats:read",))
    assert call(client, "GET", api_path(shop), key=read).status_code == 200
    assert call(client, "POST", api_path(shop), SPIKE, key=read).status_code == 403
    assert call(client, "GET", api_path(shop), key=stats).status_code == 403


def test_changing_what_a_rule_watches_starts_it_again(client: Any, shop: Site) -> None:
    key = manage_key(shop)
    rule_id = create(client, shop, {**SPIKE, "window": "1h"}, key).json()["id"]
    AlertRule.objects.filter(pk=rule_id).update(state="firing", last_value=9, error="old")
    renamed = call(client, "PATCH", api_path(shop, rule_id), {"name": "renamed"}, key)
    assert (renamed.json()["state"], renamed.json()["last_value"]) == ("firing", 9)
    changed = call(client, "PATCH", api_path(shop, rule_id), {"threshold": 50}, key)
    assert changed.json()["state"] == "ok"
    assert (changed.json()["last_value"], changed.json()["error"]) == (None, None)
    to_current = call(client, "PATCH", api_path(shop, rule_id), {"metric": "current_visitors"}, key)
    assert (to_current.json()["metric"], to_current.json()["window"]) == ("current_visitors", "5m")
