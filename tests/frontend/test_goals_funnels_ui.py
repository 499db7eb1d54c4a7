"""Goals and funnels on the dashboard and their pages (Django's client; the browser flow is
tests/browser/test_goals_funnels.py): a goal filter's top stats, revenue in its currency,
percentages and changes formatted one way, goals and funnels edited by those who may
manage the site, the funnel form's steps and window, the funnel chart."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.http import QueryDict

from accounts.models import Role
from frontend.templatetags.trail_format import percent, stat_change, stat_value, window
from frontend.views import funnel_form
from sites import services
from sites.models import Goal, Site
from tests import factories
from tests.reports.conftest import CHROME_ANDROID, FIREFOX, hit

pytestmark = pytest.mark.django_db

NOW = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
STEPS = [{"type": "page", "value": "/"}, {"type": "event", "value": "Purchase"}]


@pytest.fixture
def site(make_site: Callable[..., Site], seed: Callable[..., None]) -> Site:
    """Two visitors on /; one buys for 9.50 EUR; a Purchase goal in EUR, a Signup goal."""
    site = make_site("goals-ui-trail.com")
    services.goal_create(site=site, kind="event", value="Purchase", currency="EUR")
    services.goal_create(site=site, kind="pageview", value="/", display_name="Home")
    a = {"ip": "81.2.69.11", "user_agent": FIREFOX}
    b = {"ip": "81.2.69.12", "user_agent": CHROME_ANDROID}
    revenue = {"amount": "9.50", "currency": "EUR"}
    seed(
        site,
        [
            hit(site, NOW - dt.timedelta(minutes=20), "/", **a),
            hit(
                site, NOW - dt.timedelta(minutes=19), "/buy", name="Purchase", revenue=revenue, **a
            ),
            hit(site, NOW - dt.timedelta(minutes=10), "/", **b),
        ],
    )
    return site


@pytest.fixture
def member(client: Any, site: Site) -> Any:
    client.force_login(site.organization.memberships.get().user)
    return client


def top(member: Any, site: Site, query: str) -> str:
    answer = member.get(f"/sites/{site.domain}/panel/top?period=7d&{query}")
    assert answer.status_code == 200
    return str(answer.content.decode())


def test_a_goal_filter_shows_conversions_and_revenue(member: Any, site: Site) -> None:
    html = top(member, site, "f=event:goal|is|Purchase")
    for label in ("Unique conversions", "Total conversions", "Conversion rate"):
        assert label in html
    assert "Total pageviews" not in html and "Views per visit" not in html
    assert 'data-metric="visitors">1<' in html and 'data-metric="events">1<' in html
    assert 'data-metric="conversion_rate">50.0%<' in html
    assert 'data-metric="total_revenue">€9.50<' in html
    assert 'data-metric="average_revenue">€9.50<' in html


def test_a_goal_without_revenue_shows_no_revenue(member: Any, site: Site) -> None:
    html = top(member, site, "f=event:goal|is|Home")
    assert 'data-metric="visitors">2<' in html and "100.0%" in html
    assert "revenue" not in html.lower()


def test_a_change_from_nothing_is_new_not_a_hundred_percent(member: Any, site: Site) -> None:
    html = top(member, site, "compare=previous_period")
    # every count is "new"; a bounce rate has no change from a period without visits
    # (Plausible's rule, reports.stats.change), so it shows none
    assert html.count(">new<") == 5 and "+100%" not in html
    assert html.count('class="change') == 5


def test_formatting_one_way() -> None:
    assert (percent(50), percent(33.333), percent(50.0), percent(None)) == (
        "50%",
        "33.3%",
        "50.0%",
        "—",
    )
    assert stat_value({"metric": "bounce_rate", "value": 45}) == "45%"
    money = {"long": "€9.50", "value": 9.5, "currency": "EUR"}
    assert stat_value({"metric": "total_revenue", "value": money}) == "€9.50"
    assert stat_change({"metric": "visitors", "value": 3, "previous": 0, "change": 100}) == "new"
    assert stat_change({"metric": "visitors", "value": 0, "previous": 0, "change": 0}) == "—"
    assert stat_change({"metric": "visitors", "value": 3, "previous": 4, "change": -25}) == "-25%"
    assert stat_change({"metric": "bounce_rate", "value": 50, "previous": 40, "change": 10.0}) == (
        "+10 pts"
    )
    assert stat_change({"metric": "visitors", "value": 3, "previous": 4, "change": None}) == ""
    assert (window(1800), window(7200), window(86400), window(90)) == (
        "30 minutes",
        "2 hours",
        "1 day",
        "90 seconds",
    )


def test_panel_percentages_are_formatted(member: Any, site: Site) -> None:
    html = member.get(f"/sites/{site.domain}/panel/goals?period=7d").content.decode()
    assert ">50.0%<" in html and ">100.0%<" in html


def test_a_goal_is_edited_on_its_page(member: Any, site: Site) -> None:
    goal = site.goals.get(value="Purchase")
    page = f"/sites/{site.domain}/goals/{goal.pk}"
    form = member.get(page).content.decode()
    assert 'value="Purchase"' in form and 'value="EUR"' in form
    bad = member.post(page, {"kind": "event", "value": "Purchase", "currency": "EURO"})
    assert bad.status_code == 400 and "3-letter" in bad.content.decode()
    saved = member.post(
        page, {"kind": "event", "value": "Order", "display_name": "Order", "currency": "usd"}
    )
    assert saved.status_code == 302 and saved["Location"] == f"/sites/{site.domain}/goals"
    goal.refresh_from_db()
    assert (goal.value, goal.display_name, goal.currency) == ("Order", "Order", "USD")
    listing = member.get(f"/sites/{site.domain}/goals").content.decode()
    assert f'href="/sites/{site.domain}/goals/{goal.pk}"' in listing and ">USD<" in listing


def test_a_funnel_is_saved_with_a_window_in_hours_and_edited(member: Any, site: Site) -> None:
    page = f"/sites/{site.domain}/funnels"
    saved = member.post(
        page,
        {
            "name": "Home to purchase",
            "window": "2",
            "window_unit": "3600",
            "type0": "page",
            "value0": "/",
            "type1": "event",
            "value1": "Purchase",
        },
    )
    assert saved.status_code == 302
    funnel = site.funnels.get()
    assert (funnel.window, funnel.steps) == (7200, STEPS)
    assert "2 hours" in member.get(page).content.decode()
    edit = f"/sites/{site.domain}/funnels/{funnel.pk}"
    form = member.get(edit).content.decode()
    assert 'name="window" type="number" min="1" required value="2"' in form
    assert '<option value="3600" selected>hours</option>' in form
    assert 'value="Purchase" placeholder="Signup"' in form  # an event step's placeholder
    assert 'value="/" placeholder="/blog/*"' in form
    changed = member.post(
        edit,
        {
            "name": "Home to purchase",
            "window": "3",
            "window_unit": "86400",
            "type0": "page",
            "value0": "/",
            "type1": "page",
            "value1": "/buy",
            "type2": "event",
            "value2": "Purchase",
        },
    )
    assert changed.status_code == 302
    funnel.refresh_from_db()
    assert funnel.window == 3 * 86400 and len(funnel.steps) == 3
    refused = member.post(edit, {"name": "x", "window": "1", "window_unit": "60", "value0": "/"})
    assert refused.status_code == 400
    assert 'value="x"' in refused.content.decode()  # the form as posted, with the reason


@pytest.mark.parametrize(
    ("path", "form", "reason"),
    [
        ("goals", {"kind": "event", "value": "Purchase", "currency": "EURO"}, "3-letter"),
        ("goals", {"kind": "page", "value": "/"}, "pageview or a custom event"),  # no mark: on top
        ("funnels", {"name": "x", "window": "1", "window_unit": "60", "value0": "/"}, "step"),
        (
            "funnels",
            {
                "name": "",
                "window": "1",
                "window_unit": "60",
                **{"value0": "/", "type1": "page", "value1": "/b"},
            },
            "name",
        ),
    ],
)
def test_an_error_is_shown_once(
    member: Any, site: Site, path: str, form: dict[str, str], reason: str
) -> None:
    """Beside its field when the form shows it, else at the top: never both (issue 16.11)."""
    pages = [f"/sites/{site.domain}/{path}"]
    item = site.goals.first() if path == "goals" else None
    if path == "funnels":
        item = services.funnel_create(site=site, name="F", steps=STEPS, window=3600)
    pages.append(f"/sites/{site.domain}/{path}/{item.pk}")
    for page in pages:
        answer = member.post(page, form)
        assert answer.status_code == 400
        html = answer.content.decode()
        message = [m for m in answer.context["errors"].values()][0]
        assert reason in message.lower()
        assert html.count(message) == 1, (page, message)


def test_the_dashboard_funnel_is_a_chart_with_drop_off(member: Any, site: Site) -> None:
    services.funnel_create(site=site, name="Home to purchase", steps=STEPS, window=3600)
    html = member.get(f"/sites/{site.domain}/panel/funnels?period=7d").content.decode()
    assert 'class="funnel-chart"' in html
    assert 'data-share="100.0"' in html and 'data-share="50.0"' in html
    assert "1 dropped off (50.0%)" in html
    assert "1 of 2 visitors converted (50.0%) within 1 hour" in html


@pytest.mark.parametrize("method", ["get", "post"])
def test_only_managers_edit_and_only_their_own(
    client: Any, site: Site, method: str, make_site: Callable[..., Site]
) -> None:
    goal = site.goals.get(value="Purchase")
    funnel = services.funnel_create(site=site, name="F", steps=STEPS, window=60)
    urls = [f"/sites/{site.domain}/goals/{goal.pk}", f"/sites/{site.domain}/funnels/{funnel.pk}"]
    client.force_login(factories.member(site.organization, Role.VIEWER))
    for url in urls:
        assert getattr(client, method)(url, {"name": "x"}).status_code == 403
    other = make_site("goals-ui-other-trail.com")
    client.force_login(other.organization.memberships.get().user)
    for url in urls:
        assert getattr(client, method)(url, {"name": "x"}).status_code == 404
    elsewhere = f"/sites/{other.domain}/goals/{goal.pk}"  # one's own site, another's goal
    assert getattr(client, method)(elsewhere, {"value": "x"}).status_code == 404
    goal.refresh_from_db()
    funnel.refresh_from_db()
    assert (goal.value, funnel.name) == ("Purchase", "F")


def test_the_window_of_the_form() -> None:
    assert funnel_form.posted_window(QueryDict("window=90&window_unit=60")) == 5400
    assert funnel_form.posted_window(QueryDict("window=1800")) == 1800  # seconds, the old form
    assert funnel_form.posted_window(QueryDict("window=-1&window_unit=60")) == 0
    assert funnel_form.window_parts(5400) == (90, 60)
    assert funnel_form.window_parts(90) == (90, 1)
    assert Goal.Kind.EVENT == "event"


def step_values(html: str) -> list[tuple[str, str]]:
    """The form's step rows in order: (name, value) of each value field."""
    return re.findall(r'<input id="value\d" name="(value\d)" value="([^"]*)"', html)


def test_the_form_has_every_step_row_without_javascript(member: Any, site: Site) -> None:
    """All eight rows are in the page, the six past the second marked optional; the
    add/remove buttons, which need app.js, are hidden until it shows them."""
    page = f"/sites/{site.domain}/funnels"
    html = member.get(page).content.decode()
    assert step_values(html) == [(f"value{i}", "") for i in range(8)]
    assert [f"type{i}" for i in range(8)] == re.findall(r'<select id="(type\d)"', html)
    assert html.count("(optional)") == 2 * 6  # each optional row's number and label
    assert "Step 2 page or event</label>" in html and "Step 3 page or event (optional)" in html
    assert '<button type="button" class="secondary" data-step-add hidden>' in html
    assert html.count('data-step-remove aria-label="Remove step') == html.count(" hidden>Remove<")

    eight = {f"value{i}": f"/step-{i}" for i in range(8)} | {"type7": "event", "value7": "Buy"}
    saved = member.post(page, {"name": "Eight", "window": "1", "window_unit": "3600", **eight})
    assert saved.status_code == 302
    funnel = site.funnels.get(name="Eight")
    assert [s["value"] for s in funnel.steps] == [f"/step-{i}" for i in range(7)] + ["Buy"]
    assert funnel.steps[-1]["type"] == "event"

    # rows left empty anywhere are skipped; the order stays
    gaps = {"value0": "/a", "type3": "event", "value3": "Signup", "value6": "/c"}
    member.post(page, {"name": "Gaps", "window": "30", "window_unit": "60", **gaps})
    assert site.funnels.get(name="Gaps").steps == [
        {"type": "page", "value": "/a"},
        {"type": "event", "value": "Signup"},
        {"type": "page", "value": "/c"},
    ]

    # a ninth row is not read (a funnel has 8 steps at most)
    nine = {f"value{i}": f"/n{i}" for i in range(9)}
    member.post(page, {"name": "Nine", "window": "30", "window_unit": "60", **nine})
    assert len(site.funnels.get(name="Nine").steps) == 8


def test_the_edit_form_shows_the_saved_steps_then_empty_rows(member: Any, site: Site) -> None:
    steps = [*STEPS, {"type": "page", "value": "/thanks"}]
    funnel = services.funnel_create(site=site, name="Three", steps=steps, window=3600)
    edit = f"/sites/{site.domain}/funnels/{funnel.pk}"
    html = member.get(edit).content.decode()
    assert step_values(html) == [
        ("value0", "/"),
        ("value1", "Purchase"),
        ("value2", "/thanks"),
        *((f"value{i}", "") for i in range(3, 8)),
    ]
    # a step added in an empty row, without JavaScript
    form = {"name": "Three", "window": "1", "window_unit": "3600"}
    form |= {f"type{i}": s["type"] for i, s in enumerate(steps)}
    form |= {f"value{i}": s["value"] for i, s in enumerate(steps)} | {"value3": "/after"}
    assert member.post(edit, form).status_code == 302
    funnel.refresh_from_db()
    assert [s["value"] for s in funnel.steps] == ["/", "Purchase", "/thanks", "/after"]

    # refused (no name): the form as posted, its steps first, then the empty rows
    refused = member.post(edit, {**form, "name": "", "value1": "", "value5": "/late"})
    assert refused.status_code == 400
    assert [v for _, v in step_values(refused.content.decode())] == [
        "/",
        "/thanks",
        "/after",
        "/late",
        "",
        "",
        "",
        "",
    ]


def test_form_context_pads_to_every_row() -> None:
    context = funnel_form.form_context()
    rows = context["form_steps"]
    assert len(rows) == context["max_steps"] == 8
    assert [row["optional"] for row in rows] == [False, False, *[True] * 6]
    assert all(
        row == {"type": "page", "value": "", "placeholder": "/blog/*", "optional": row["optional"]}
        for row in rows
    )
    posted = funnel_form.form_context(form=QueryDict("type2=event&value2=Signup"))
    assert posted["form_steps"][0] == {
        "type": "event",
        "value": "Signup",
        "placeholder": "Signup",
        "optional": False,
    }
