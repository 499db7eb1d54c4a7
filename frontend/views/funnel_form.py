"""The funnel form of a site's Funnels page (new and edit): numbered step rows `type<i>` /
`value<i>` and a window as an amount and a unit (`window`, `window_unit`: minutes, hours or
days). A form without `window_unit` gives its window in seconds (what the form sent before
units).

Every row a funnel may have (`MAX_STEPS`) is rendered, the filled ones first, so that a
funnel of up to eight steps can be made without JavaScript (empty rows are left out when
the form is read); frontend/static/trail/app.js hides the empty rows past the last filled
one (and past the second), and offers "Add a step" and "Remove", which show, clear and
renumber rows."""

from __future__ import annotations

from typing import Any

from django.http import QueryDict

from sites.funnels import DEFAULT_WINDOW, MAX_STEPS, MIN_STEPS
from sites.models import Funnel

UNITS = ((60, "minutes"), (3600, "hours"), (86400, "days"))
PLACEHOLDERS = {"page": "/blog/*", "event": "Signup"}


def posted_steps(form: QueryDict) -> list[dict[str, str]]:
    """The form's steps in order; empty rows are skipped."""
    steps = []
    for i in range(MAX_STEPS):
        value = form.get(f"value{i}", "").strip()
        if value:
            steps.append({"type": form.get(f"type{i}", "page"), "value": value})
    return steps


def posted_window(form: QueryDict) -> int:
    """The window in seconds (0 when it is not a whole number: the service refuses it)."""
    amount, unit = form.get("window", str(DEFAULT_WINDOW)), form.get("window_unit", "1")
    if not amount.isdigit() or not unit.isdigit() or len(amount) > 9:
        return 0
    return int(amount) * int(unit)


def window_parts(seconds: int) -> tuple[int, int]:
    """A window as the largest unit that writes it whole (seconds if none does)."""
    for size, _ in reversed(UNITS):
        if seconds % size == 0:
            return seconds // size, size
    return seconds, 1


def form_context(funnel: Funnel | None = None, form: QueryDict | None = None) -> dict[str, Any]:
    """What `_funnel_form.html` shows: the posted values after an error, else the funnel's
    (a new funnel: 30 minutes), and empty page steps up to `MAX_STEPS` rows, those past
    `MIN_STEPS` marked optional."""
    if form is not None:
        name, steps = form.get("name", ""), posted_steps(form)
        amount, posted_unit = form.get("window", ""), form.get("window_unit", "60")
        unit = int(posted_unit) if posted_unit.isdigit() and len(posted_unit) < 7 else 60
    elif funnel is not None:
        name, steps = funnel.name, list(funnel.steps)
        amount_, unit = window_parts(funnel.window)
        amount = str(amount_)
    else:
        name, steps = "", []
        amount_, unit = window_parts(DEFAULT_WINDOW)
        amount = str(amount_)
    steps += [{"type": "page", "value": ""}] * (MAX_STEPS - len(steps))
    units = UNITS if unit in dict(UNITS) else ((unit, "seconds"), *UNITS)
    return {
        "form_name": name,
        "form_steps": [
            {
                **step,
                "placeholder": PLACEHOLDERS.get(step["type"], ""),
                "optional": i >= MIN_STEPS,
            }
            for i, step in enumerate(steps)
        ],
        "window_amount": amount,
        "window_unit": unit,
        "units": units,
        "max_steps": MAX_STEPS,
        "min_steps": MIN_STEPS,
        "placeholders": PLACEHOLDERS,
    }
