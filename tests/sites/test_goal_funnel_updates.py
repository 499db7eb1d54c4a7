"""Editing goals and funnels (`services.goal_update`, `services.funnel_update`): the rules
of creating them, a revenue goal's currency, and only the site's own rows."""

from __future__ import annotations

import pytest

from accounts.errors import ServiceError
from sites import services
from sites.models import Goal, Site
from tests import factories

pytestmark = pytest.mark.django_db

STEPS = [{"type": "page", "value": "/blog/*"}, {"type": "event", "value": "Signup"}]


@pytest.fixture
def site() -> Site:
    return factories.site(factories.organization(), "goal-edits-trail.com")


def test_a_revenue_goal_keeps_its_currency_upper_case(site: Site) -> None:
    goal = services.goal_create(site=site, kind="event", value="Purchase", currency=" eur ")
    assert goal.currency == "EUR"


@pytest.mark.parametrize(
    ("kind", "value", "currency", "reason"),
    [
        ("event", "Purchase", "EURO", "3-letter"),
        ("event", "Purchase", "E1R", "3-letter"),
        ("pageview", "/thanks", "EUR", "only a custom event"),
    ],
)
def test_a_currency_is_checked(
    site: Site, kind: str, value: str, currency: str, reason: str
) -> None:
    with pytest.raises(ServiceError) as caught:
        services.goal_create(site=site, kind=kind, value=value, currency=currency)
    assert caught.value.field == "currency" and reason in caught.value.message
    assert not site.goals.exists()


def test_a_goal_is_edited_by_the_rules_of_creating_one(site: Site) -> None:
    goal = services.goal_create(site=site, kind="event", value="Signup")
    edited = services.goal_update(
        site=site,
        goal_id=goal.pk,
        kind="event",
        value="Purchase",
        display_name="Buy",
        currency="usd",
    )
    assert (edited.value, edited.display_name, edited.currency) == ("Purchase", "Buy", "USD")
    plain = services.goal_update(site=site, goal_id=goal.pk, kind="pageview", value="/thanks")
    assert (plain.kind, plain.display_name, plain.currency) == ("pageview", "Visit /thanks", "")
    with pytest.raises(ServiceError) as caught:
        services.goal_update(site=site, goal_id=goal.pk, kind="pageview", value="thanks")
    assert caught.value.field == "value"
    assert Goal.objects.get(pk=goal.pk).value == "/thanks"


def test_an_edit_cannot_duplicate_a_goal(site: Site) -> None:
    services.goal_create(site=site, kind="event", value="Signup")
    other = services.goal_create(site=site, kind="event", value="Purchase")
    with pytest.raises(ServiceError, match="exists already"):
        services.goal_update(site=site, goal_id=other.pk, kind="event", value="Signup")


def test_only_the_sites_own_goal_or_funnel_is_edited(site: Site) -> None:
    elsewhere = factories.site(factories.organization(), "goal-edits-other-trail.com")
    goal = services.goal_create(site=elsewhere, kind="event", value="Signup")
    funnel = services.funnel_create(site=elsewhere, name="F", steps=STEPS, window=60)
    with pytest.raises(ServiceError, match="no such goal"):
        services.goal_update(site=site, goal_id=goal.pk, kind="event", value="Hacked")
    with pytest.raises(ServiceError, match="no such funnel"):
        services.funnel_update(site=site, funnel_id=funnel.pk, name="X", steps=STEPS, window=60)
    goal.refresh_from_db()
    funnel.refresh_from_db()
    assert (goal.value, funnel.name) == ("Signup", "F")


def test_a_funnel_is_edited_by_the_funnel_rules(site: Site) -> None:
    funnel = services.funnel_create(site=site, name="Blog to signup", steps=STEPS, window=1800)
    three = [*STEPS, {"type": "page", "value": "/thanks"}]
    edited = services.funnel_update(
        site=site, funnel_id=funnel.pk, name=" Blog to thanks ", steps=three, window=7200
    )
    assert (edited.name, edited.steps, edited.window) == ("Blog to thanks", three, 7200)
    with pytest.raises(ServiceError) as caught:
        services.funnel_update(
            site=site, funnel_id=funnel.pk, name="One", steps=STEPS[:1], window=60
        )
    assert caught.value.field == "steps"
    funnel.refresh_from_db()
    assert funnel.name == "Blog to thanks" and len(funnel.steps) == 3
