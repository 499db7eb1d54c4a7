"""Alert rules: their fields checked (every error names its field), written and shown.

The API (`alerts.api`) and the Alerts page (`frontend/views/alerts.py`) both go through
`rule_create`, `rule_update` and `rule_json`; a rule's secrets (a webhook's) are never shown
(`notify.channels.redact`). Decisions: docs/alerts.md.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from accounts.api_shared import object_id
from accounts.errors import NotFound, ServiceError
from alerts.models import AlertFiring, AlertRule
from notify import channels as notify_channels
from reports.context import site_goals
from reports.parse import parse_filters
from sites.models import Goal, Site

FIELDS = frozenset(
    {
        "name",
        "metric",
        "goal",
        "filters",
        "window",
        "condition",
        "threshold",
        "cooldown",
        "channels",
        "enabled",
    }
)
REQUIRED = ("name", "metric", "window", "condition", "threshold")
METRICS = tuple(choice.value for choice in AlertRule.Metric)
GOAL_METRICS = frozenset({AlertRule.Metric.CONVERSIONS, AlertRule.Metric.CONVERSION_RATE})
CONDITIONS = tuple(choice.value for choice in AlertRule.Condition)
CHANGES = frozenset({AlertRule.Condition.CHANGE_UP, AlertRule.Condition.CHANGE_DOWN})
UNITS = {"m": dt.timedelta(minutes=1), "h": dt.timedelta(hours=1), "d": dt.timedelta(days=1)}
_WINDOW = re.compile(r"^([1-9][0-9]{0,4})([mhd])$")
MAX_WINDOW = dt.timedelta(days=31)
CURRENT_WINDOW = "5m"  # current visitors: realtime's "now", the last 5 minutes
MAX_NAME = 120
MAX_COOLDOWN = 7 * 24 * 60  # minutes
DEFAULT_COOLDOWN = 60
MAX_FILTERS = 20
MAX_CHANNELS = 10
MAX_RULES_PER_SITE = 100
MAX_THRESHOLD = 1e12

# Plausible's two notices as ready-made rule bodies (the page's presets; docs/alerts.md).
PRESETS: dict[str, dict[str, Any]] = {
    "traffic_spike": {
        "name": "Traffic spike",
        "metric": "current_visitors",
        "window": "5m",
        "condition": "above",
        "threshold": 10,
        "filters": [],
        "cooldown": 60,
    },
    "traffic_drop": {
        "name": "Traffic drop",
        "metric": "visitors",
        "window": "12h",
        "condition": "below",
        "threshold": 1,
        "filters": [],
        "cooldown": 720,
    },
}


def window_delta(window: str) -> dt.timedelta:
    """ "5m" → 5 minutes ("h" hours, "d" days); ServiceError naming `window` otherwise."""
    found = _WINDOW.match(window) if isinstance(window, str) else None
    if found is None:
        raise ServiceError(
            'expected a number and a unit: "5m" (minutes), "2h" (hours) or "7d" (days)',
            field="window",
        )
    delta = int(found.group(1)) * UNITS[found.group(2)]
    if delta > MAX_WINDOW:
        raise ServiceError("at most 31 days", field="window")
    return delta


def _text(value: Any, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ServiceError("required: a non-empty text", field=field)
    if len(value) > limit:
        raise ServiceError(f"at most {limit} characters", field=field)
    if "\x00" in value:
        raise ServiceError("must not contain a NUL character", field=field)
    return value.strip()


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ServiceError("expected a number", field=field)
    number = float(value)
    if not math.isfinite(number) or abs(number) > MAX_THRESHOLD:
        raise ServiceError("expected a finite number", field=field)
    return number


def _goal(site: Site, value: Any) -> Goal:
    """A goal of the site by its id or its name (as the Stats API's `event:goal` names it)."""
    goals = site.goals.all()
    if isinstance(value, int) and not isinstance(value, bool):
        found = goals.filter(pk=value).first()
    elif isinstance(value, str) and value.strip():
        found = next((g for g in goals if g.display_name == value), None)
    else:
        raise ServiceError("required for this metric: the goal's name or id", field="goal")
    if found is None:
        raise ServiceError(f"the site has no goal {value!r}", field="goal")
    return found


def _channels(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ServiceError("expected an array of channels", field="channels")
    if len(value) > MAX_CHANNELS:
        raise ServiceError(f"at most {MAX_CHANNELS} channels", field="channels")
    try:
        return notify_channels.validate_channels(value)
    except notify_channels.ChannelError as exc:
        field = str(getattr(exc, "field", "") or "channels")
        if not field.startswith("channels"):
            field = f"channels.{field}"
        raise ServiceError(str(getattr(exc, "message", exc)), field=field) from None


def clean(site: Site, body: Mapping[str, Any], *, rule: AlertRule | None = None) -> dict[str, Any]:
    """The model's fields from an API body (`rule`: a PATCH of it, missing fields kept)."""
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise ServiceError("unknown field", field=str(unknown[0])[:100])
    if rule is None:
        for field in REQUIRED:
            if field not in body:
                raise ServiceError("required", field=field)
    fields: dict[str, Any] = {}
    if "name" in body:
        fields["name"] = _text(body["name"], "name", MAX_NAME)
    metric = body.get("metric", rule.metric if rule else None)
    if metric not in METRICS:
        raise ServiceError(
            f"unknown metric {metric!r}; known: {', '.join(METRICS)}", field="metric"
        )
    fields["metric"] = metric
    if metric in GOAL_METRICS:
        if "goal" in body or rule is None or rule.goal_id is None:
            goal = _goal(site, body.get("goal"))
            fields["goal"], fields["goal_name"] = goal, goal.display_name
    else:
        if body.get("goal") not in (None, ""):
            raise ServiceError("only for conversions and conversion_rate", field="goal")
        fields["goal"], fields["goal_name"] = None, ""
    if "window" in body or metric == AlertRule.Metric.CURRENT_VISITORS:
        window = body.get("window", CURRENT_WINDOW)
        window_delta(window)
        if metric == AlertRule.Metric.CURRENT_VISITORS and window != CURRENT_WINDOW:
            raise ServiceError(
                f'current visitors are those of the last 5 minutes: use "{CURRENT_WINDOW}"',
                field="window",
            )
        fields["window"] = window
    if "condition" in body:
        if body["condition"] not in CONDITIONS:
            raise ServiceError(f"expected one of {', '.join(CONDITIONS)}", field="condition")
        fields["condition"] = body["condition"]
    if "threshold" in body:
        fields["threshold"] = _number(body["threshold"], "threshold")
    condition = fields.get("condition", rule.condition if rule else "")
    threshold = fields.get("threshold", rule.threshold if rule else 0.0)
    if condition in CHANGES and threshold <= 0:
        raise ServiceError("a change is a percentage above 0", field="threshold")
    if "cooldown" in body:
        cooldown = body["cooldown"]
        if isinstance(cooldown, bool) or not isinstance(cooldown, int):
            raise ServiceError("expected a whole number of minutes", field="cooldown")
        if not 0 <= cooldown <= MAX_COOLDOWN:
            raise ServiceError(f"expected 0 to {MAX_COOLDOWN} minutes", field="cooldown")
        fields["cooldown"] = cooldown
    if "filters" in body or rule is None:
        filters = body.get("filters") or []
        if not isinstance(filters, list):
            raise ServiceError("expected an array of the Stats API's filters", field="filters")
        if len(filters) > MAX_FILTERS:
            raise ServiceError(f"at most {MAX_FILTERS} filters", field="filters")
        parse_filters(filters, site_goals(site))  # a ServiceError names filters[i]…
        fields["filters"] = filters
    if "channels" in body or rule is None:
        fields["channels"] = _channels(body.get("channels"))
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise ServiceError("expected true or false", field="enabled")
        fields["enabled"] = body["enabled"]
    return fields


def rule_create(*, site: Site, body: Mapping[str, Any]) -> AlertRule:
    fields = clean(site, body)
    with transaction.atomic():
        if AlertRule.objects.filter(site=site).count() >= MAX_RULES_PER_SITE:
            raise ServiceError(f"a site has at most {MAX_RULES_PER_SITE} rules", field="body")
        return AlertRule.objects.create(site=site, **fields)


def rule_update(*, rule: AlertRule, body: Mapping[str, Any]) -> AlertRule:
    """A PATCH: the fields given, checked with the others as they are. A changed rule
    starts again from "ok" (its old state described another question)."""
    fields = clean(rule.site, body, rule=rule)
    watched = ("metric", "goal", "filters", "window", "condition", "threshold")
    if any(name in body for name in watched):
        fields.update(state=AlertRule.State.OK, last_value=None, last_baseline=None, error="")
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.save()
    return rule


def rule_get(*, site: Site, rule_id: object) -> AlertRule:
    """A rule of `site` by id; anything else (another site's, a made-up id) is NotFound."""
    pk = object_id(rule_id, "alert")
    rule = AlertRule.objects.filter(site=site, pk=pk).select_related("site").first()
    if rule is None:
        raise NotFound("alert")
    return rule


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def rule_json(rule: AlertRule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "name": rule.name,
        "metric": rule.metric,
        "goal": rule.goal_name or None,
        "filters": rule.filters,
        "window": rule.window,
        "condition": rule.condition,
        "threshold": rule.threshold,
        "cooldown": rule.cooldown,
        "channels": [notify_channels.redact(spec) for spec in rule.channels],
        "enabled": rule.enabled,
        "state": rule.state,
        "last_value": rule.last_value,
        "last_baseline": rule.last_baseline,
        "last_evaluated_at": _iso(rule.last_evaluated_at),
        "last_fired_at": _iso(rule.last_fired_at),
        "error": rule.error or None,
        "created_at": _iso(rule.created_at),
    }


def firing_json(firing: AlertFiring, deliveries: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A firing; with `deliveries` (id → notify's delivery) their status too."""
    shown: list[Any] = list(firing.deliveries)
    if deliveries is not None:
        shown = [
            delivery_json(deliveries[pk]) if pk in deliveries else {"id": pk}
            for pk in firing.deliveries
        ]
    return {
        "id": firing.pk,
        "kind": firing.kind,
        "value": firing.value,
        "threshold": firing.threshold,
        "baseline": firing.baseline,
        "at": _iso(firing.at),
        "deliveries": shown,
    }


def delivery_json(delivery: Any) -> dict[str, Any]:
    """What the page and the API show of a notify delivery (the log's row, no secret)."""
    return {
        "id": str(delivery.pk),
        "channel": delivery.channel,
        "target": delivery.target,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "status_code": delivery.last_status_code,
        "error": delivery.last_error or None,
    }
