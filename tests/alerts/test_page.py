"""The Alerts page (site settings → Alerts): list, add from the form and its presets,
errors beside their field, delete, send test (htmx and plain), recent firings with their
deliveries; viewers read, outsiders 404; a fixed number of queries however many rules."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from alerts import evaluate as evaluator
from alerts.models import AlertFiring, AlertRule
from sites.models import Goal, Site
from tests import factories
from tests.alerts.conftest import MIN, NOW, Inbox, Seed, visitors

pytestmark = pytest.mark.django_db

FORM = {
    "name": "spike",
    "metric": "visitors",
    "window_count": "5",
    "window_unit": "m",
    "condition": "above",
    "threshold": "3",
    "cooldown": "30",
    "email": "ops@example.com",
    "webhook_format": "json",
}


def page(site: Site) -> str:
    return f"/sites/{site.domain}/alerts"


@pytest.fixture
def owner(client: Any, shop: Site) -> Any:
    user = shop.organization.memberships.get(role="owner").user
    client.force_login(user)
    return user


def test_add_from_the_form_and_see_it_listed(client: Any, shop: Site, owner: Any) -> None:
    answer = client.post(
        page(shop), {**FORM, "filter_dimension": "event:page", "filter_value": "/pricing"}
    )
    assert answer.status_code == 302
    rule = AlertRule.objects.get(site=shop)
    assert (rule.window, rule.threshold, rule.cooldown, rule.filters) == (
        "5m",
        3,
        30,
        [["is", "event:page", ["/pricing"]]],
    )
    assert rule.channels == [{"type": "email", "to": "ops@example.com"}]
    shown = client.get(page(shop))
    html = shown.content.decode()
    assert shown.status_code == 200
    assert (
        "spike" in html and "Visitors in the last 5m above 3" in html and "ops@example.com" in html
    )
    assert 'aria-current="page">Alerts<' in html


def test_presets_fill_the_form(client: Any, shop: Site, owner: Any) -> None:
    html = client.get(page(shop), {"preset": "traffic_drop"}).content.decode()
    assert 'value="Traffic drop"' in html
    assert '<option value="below" selected>' in html
    assert 'value="12"' in html and '<option value="h" selected>' in html
    assert "Traffic spike" in client.get(page(shop), {"preset": "traffic_spike"}).content.decode()
    assert client.get(page(shop), {"preset": "nonsense"}).status_code == 200


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"window_count": "0"}, "expected a number and a unit"),
        ({"window_count": "40", "window_unit": "d"}, "at most 31 days"),
        ({"threshold": "lots"}, "expected a number"),
        ({"metric": "revenue"}, "unknown metric"),
        ({"metric": "conversions"}, "required for this metric"),
        ({"email": "nobody"}, "not a valid email address"),
        ({"webhook_url": "ftp://example.com/"}, "only http"),
        ({"webhook_url": "http://10.0.0.1/hook"}, ""),
        ({"name": ""}, "required"),
        ({"filter_dimension": "visit:planet", "filter_value": "Mars"}, "visit:planet"),
    ],
)
def test_bad_input_is_shown_and_nothing_added(
    client: Any, shop: Site, owner: Any, change: dict[str, str], says: str
) -> None:
    answer = client.post(page(shop), {**FORM, "webhook_secret": "do-not-echo", **change})
    assert answer.status_code == 400
    html = answer.content.decode()
    assert 'class="error"' in html and says in html
    assert "do-not-echo" not in html
    assert not AlertRule.objects.filter(site=shop).exists()


def test_goal_alert_from_the_form(client: Any, shop: Site, owner: Any) -> None:
    goal = Goal.objects.create(
        site=shop, kind=Goal.Kind.EVENT, value="Signup", display_name="Signup"
    )
    answer = client.post(page(shop), {**FORM, "metric": "conversion_rate", "goal": str(goal.pk)})
    assert answer.status_code == 302
    assert AlertRule.objects.get(site=shop).goal_name == "Signup"


def test_delete(client: Any, shop: Site, owner: Any) -> None:
    client.post(page(shop), FORM)
    rule = AlertRule.objects.get(site=shop)
    assert client.post(page(shop), {"delete": str(rule.pk)}).status_code == 302
    assert not AlertRule.objects.filter(site=shop).exists()
    # a made-up or another site's id: nothing deleted, said so
    other = factories.site(factories.organization(), "other.alerts.example")
    theirs = AlertRule.objects.create(
        site=other, name="theirs", metric="visitors", window="5m", condition="above", threshold=1
    )
    answer = client.post(page(shop), {"delete": str(theirs.pk)}, follow=True)
    assert "No such alert." in answer.content.decode()
    assert client.post(page(shop), {"delete": "x"}).status_code == 400
    assert AlertRule.objects.filter(pk=theirs.pk).exists()


def test_send_test_with_htmx_and_without(client: Any, shop: Site, owner: Any, smtp: Inbox) -> None:
    client.post(page(shop), FORM)
    rule = AlertRule.objects.get(site=shop)
    url = f"{page(shop)}/{rule.pk}/test"
    answer = client.post(url, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    assert "Test sent: ops@example.com sent" in answer.content.decode()
    assert len(smtp.mails) == 1
    answer = client.post(url, follow=True)
    assert "Test sent (ops@example.com: sent)." in answer.content.decode()
    assert len(smtp.mails) == 2
    AlertRule.objects.filter(pk=rule.pk).update(channels=[])
    answer = client.post(url, HTTP_HX_REQUEST="true")
    assert "no channel to send through" in answer.content.decode()


def test_recent_firings_and_their_deliveries(
    client: Any, shop: Site, owner: Any, seed: Seed, smtp: Inbox
) -> None:
    client.post(page(shop), FORM)
    seed(shop, visitors(shop, NOW - MIN, 4))
    evaluator.evaluate(now=NOW, sites=[shop.pk])
    evaluator.evaluate(now=NOW + 10 * MIN, sites=[shop.pk])
    html = client.get(page(shop)).content.decode()
    assert html.count('class="alert-firing"') == 2
    assert (
        '<td class="firing-kind">firing</td>' in html
        and '<td class="firing-kind">cleared</td>' in html
    )
    assert html.count("ops@example.com: sent") == 2
    assert "firing" in html


def test_one_set_of_queries_however_many_rules(
    client: Any, shop: Site, owner: Any, smtp: Inbox
) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(page(shop)).status_code == 200
        return len(queries)

    client.post(page(shop), FORM)
    rule = AlertRule.objects.get(site=shop)
    evaluator.send_test(rule)
    few = count()
    for n in range(5):
        client.post(page(shop), {**FORM, "name": f"spike {n}"})
    for made in AlertRule.objects.filter(site=shop):
        evaluator.send_test(made)
    assert AlertFiring.objects.count() == 7
    assert count() == few


def test_viewers_read_outsiders_do_not_see(client: Any, shop: Site) -> None:
    AlertRule.objects.create(
        site=shop, name="seen", metric="visitors", window="5m", condition="above", threshold=1
    )
    client.force_login(factories.member(shop.organization, Role.VIEWER))
    assert "seen" in client.get(page(shop)).content.decode()
    assert client.post(page(shop), FORM).status_code == 403
    rule = AlertRule.objects.get(site=shop)
    assert client.post(f"{page(shop)}/{rule.pk}/test").status_code == 403
    client.force_login(factories.user())
    assert client.get(page(shop)).status_code == 404
    assert client.post(f"{page(shop)}/{rule.pk}/test").status_code == 404
    client.logout()
    assert client.get(page(shop)).status_code == 302  # to sign in


def test_an_error_is_said_once_beside_its_field_or_at_the_top(
    client: Any, shop: Site, owner: Any
) -> None:
    html = client.post(page(shop), {**FORM, "threshold": "lots"}).content.decode()
    assert html.count("expected a number") == 1
    AlertRule.objects.bulk_create(
        AlertRule(
            site=shop, name=f"r{i}", metric="visitors", window="5m", condition="above", threshold=1
        )
        for i in range(100)
    )
    html = client.post(page(shop), FORM).content.decode()
    assert html.count("a site has at most 100 rules") == 1
