"""Saved funnels: `services.funnel_create` checks steps and window by the funnel rules
(sites/funnels.py, the funnels API's too) before it stores anything."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.errors import ServiceError
from sites import services
from sites.funnels import MAX_STEPS, MAX_TEXT, MAX_WINDOW
from sites.models import Site
from tests import factories

pytestmark = pytest.mark.django_db

STEPS = [{"type": "page", "value": "/blog/*"}, {"type": "event", "value": "Signup"}]


@pytest.fixture
def site() -> Site:
    return factories.site(factories.organization(), "funnel-rules-trail.com")


def refused(site: Site, **changes: Any) -> ServiceError:
    fields = {"name": "Blog to signup", "steps": STEPS, "window": 1800, **changes}
    with pytest.raises(ServiceError) as caught:
        services.funnel_create(site=site, **fields)
    assert not site.funnels.exists()
    return caught.value


def test_a_funnel_is_stored_with_its_steps_as_values(site: Site) -> None:
    funnel = services.funnel_create(site=site, name=" Blog to signup ", steps=STEPS, window=3600)
    assert funnel.name == "Blog to signup" and funnel.window == 3600
    assert funnel.steps == STEPS


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"steps": STEPS[:1]}, "steps", "a funnel has 2 to 8 steps, got 1"),
        ({"steps": STEPS * 5}, "steps", f"a funnel has 2 to {MAX_STEPS} steps, got 10"),
        ({"steps": "/blog"}, "steps", "expected a list of steps"),
        ({"steps": [STEPS[0], "Signup"]}, "steps[1]", "expected"),
        ({"steps": [STEPS[0], {"type": "click", "name": "x"}]}, "steps[1].type", "expected"),
        ({"steps": [STEPS[0], {"type": "page", "value": ""}]}, "steps[1].value", "non-empty"),
        (
            {"steps": [STEPS[0], {"type": "event", "value": "x" * (MAX_TEXT + 1)}]},
            "steps[1].value",
            f"at most {MAX_TEXT} characters",
        ),
        ({"steps": [STEPS[0], {"type": "page", "pattern": "/"}]}, "steps[1].pattern", "unknown"),
        ({"window": 0}, "window", f"expected 1 to {MAX_WINDOW} seconds"),
        ({"window": MAX_WINDOW + 1}, "window", "expected 1 to"),
        ({"window": True}, "window", "a whole number of seconds"),
        ({"window": "1800"}, "window", "a whole number of seconds"),
        ({"name": " "}, "name", "a funnel name has 1 to 120 characters"),
        ({"name": "a\x00b"}, "name", "may not contain the NUL character"),
        ({"steps": [STEPS[0], {"type": "event", "value": "x\x00"}]}, "steps[1]", "NUL"),
        ({"steps": [{"type": "page", "value": "/\x00*"}, STEPS[1]]}, "steps[0]", "NUL"),
    ],
)
def test_bad_steps_window_or_name_are_refused(
    site: Site, changes: dict[str, Any], field: str, message: str
) -> None:
    error = refused(site, **changes)
    assert error.field == field
    assert message in str(error)


def test_steps_are_checked_before_the_name(site: Site) -> None:
    assert refused(site, name="", steps=STEPS[:1]).field == "steps"
