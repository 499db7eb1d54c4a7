"""The rules of a funnel's steps and window, for a saved funnel and a funnel query alike.

A funnel is 2–8 steps, each a page (a path pattern, `*` matches any characters, as for
pageview goals) or a custom event (by exact name), all within `window` seconds of the
first. A request body writes a step `{"type": "page", "pattern": …}` or `{"type":
"event", "name": …}` (`BODY`), a saved funnel `{"type": …, "value": …}` (`STORED`, as
`sites.models.Funnel` keeps them); both leave as `Step`s. `reports.funnels.parse`,
`sites.services.funnel_create` and `funnel_update` check with these rules; errors name the
field (`steps[1].type`, `window`). Decisions: docs/funnels-and-realtime.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from accounts.errors import ServiceError

MIN_STEPS = 2
MAX_STEPS = 8
MAX_TEXT = 2000
DEFAULT_WINDOW = 30 * 60  # seconds: as long as a visit lasts without events
MAX_WINDOW = 90 * 24 * 3600

StepType = Literal["page", "event"]


@dataclass(frozen=True)
class Step:
    type: StepType
    value: str  # the page pattern or the event name

    @property
    def label(self) -> str:
        return f"Visit {self.value}" if self.type == "page" else self.value

    def stored(self) -> dict[str, str]:
        """The step as a saved funnel keeps it."""
        return {"type": self.type, "value": self.value}


@dataclass(frozen=True)
class _Shape:
    """How a step is written: the key of a page step's pattern and of an event's name."""

    page: str
    event: str

    def key(self, kind: StepType) -> str:
        return self.page if kind == "page" else self.event


BODY = _Shape(page="pattern", event="name")  # a request body's (the funnels API's)
STORED = _Shape(page="value", event="value")  # a saved funnel's (`Funnel.steps`)


def step_body(kind: str, value: str) -> dict[str, str]:
    """A step as a request body writes it (`{"type": "page", "pattern": …}`)."""
    return {"type": kind, BODY.page if kind == "page" else BODY.event: value}


def clean_steps(value: object, shape: _Shape = STORED) -> tuple[Step, ...]:
    """Steps written as `shape` says, checked; errors name `steps` or `steps[i]…`."""
    if not isinstance(value, list):
        raise ServiceError("expected a list of steps", field="steps")
    if not MIN_STEPS <= len(value) <= MAX_STEPS:
        raise ServiceError(
            f"a funnel has {MIN_STEPS} to {MAX_STEPS} steps, got {len(value)}", field="steps"
        )
    return tuple(_step(item, f"steps[{index}]", shape) for index, item in enumerate(value))


def _step(item: object, field: str, shape: _Shape) -> Step:
    if not isinstance(item, dict):
        raise ServiceError(
            f'expected {{"type": "page", "{shape.page}": …}}'
            f' or {{"type": "event", "{shape.event}": …}}',
            field=field,
        )
    kind: StepType
    if item.get("type") == "page":
        kind = "page"
    elif item.get("type") == "event":
        kind = "event"
    else:
        raise ServiceError('expected "page" or "event"', field=f"{field}.type")
    key = shape.key(kind)
    for extra in item:
        if extra not in ("type", key):
            raise ServiceError(
                f'unknown key; a {kind} step has "type" and "{key}"',
                field=f"{field}.{extra[:100]}",
            )
    text = item.get(key)
    if not isinstance(text, str) or not text:
        raise ServiceError("expected a non-empty string", field=f"{field}.{key}")
    if len(text) > MAX_TEXT:
        raise ServiceError(f"at most {MAX_TEXT} characters", field=f"{field}.{key}")
    return Step(type=kind, value=text)


def clean_window(value: object) -> int:
    """A window in whole seconds, 1 to 90 days; `true`, `"1800"` and `1800.5` are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ServiceError("expected a whole number of seconds", field="window")
    if not 0 < value <= MAX_WINDOW:
        raise ServiceError(f"expected 1 to {MAX_WINDOW} seconds (90 days)", field="window")
    return value
