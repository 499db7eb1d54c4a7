"""The words of an alert's message: a subject, plain text, a little HTML, and the data a
webhook carries as JSON (docs/alerts.md has an example)."""

from __future__ import annotations

from typing import Any

from django.utils.html import escape

from alerts.models import AlertFiring, AlertRule
from notify.messages import Message

UNITS = {"bounce_rate": " %", "conversion_rate": " %", "visit_duration": " s"}
LABELS = dict(AlertRule.Metric.choices)
# The webhook's `event` (and X-Trail-Event) of each kind of firing.
EVENTS: dict[str, str] = {
    AlertFiring.Kind.FIRING: "alert.fired",
    AlertFiring.Kind.CLEARED: "alert.cleared",
    AlertFiring.Kind.TEST: "test",  # as docs/webhooks.md names the "send test" message
}


def _number(value: float | None, metric: str) -> str:
    if value is None:
        return "—"
    shown = f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{int(value):,}"
    return shown + UNITS.get(metric, "")


def describe_condition(rule: AlertRule) -> str:
    """ "above 3", "down by at least 50 %"…"""
    if rule.condition == AlertRule.Condition.ABOVE:
        return f"above {_number(rule.threshold, rule.metric)}"
    if rule.condition == AlertRule.Condition.BELOW:
        return f"below {_number(rule.threshold, rule.metric)}"
    way = "up" if rule.condition == AlertRule.Condition.CHANGE_UP else "down"
    return f"{way} by at least {_number(rule.threshold, '')} % on the previous {rule.window}"


def what(rule: AlertRule) -> str:
    """ "Visitors in the last 5m", "Conversions of a goal (Signup) in the last 2h"."""
    label = LABELS.get(rule.metric, rule.metric)
    if rule.goal_name:
        label = f"{label} ({rule.goal_name})"
    if rule.metric == AlertRule.Metric.CURRENT_VISITORS:
        return label
    return f"{label} in the last {rule.window}"


def build(rule: AlertRule, firing: AlertFiring, *, base_url: str) -> Message:
    site = rule.site
    metric = rule.metric
    value = _number(firing.value, metric)
    if firing.kind == AlertFiring.Kind.FIRING:
        headline = f"{rule.name}: {what(rule)} is {value}, {describe_condition(rule)}"
    elif firing.kind == AlertFiring.Kind.CLEARED:
        headline = (
            f"{rule.name} cleared: {what(rule)} is {value}, no longer {describe_condition(rule)}"
        )
    else:
        headline = f"{rule.name} (test): this is how the alert will reach you"
    lines = [
        headline,
        "",
        f"Site: {site.domain}",
        f"Rule: {what(rule)} {describe_condition(rule)}",
        f"Value: {value}",
    ]
    if firing.baseline is not None:
        lines.append(f"Previous {rule.window}: {_number(firing.baseline, metric)}")
    if rule.filters:
        lines.append(f"Filters: {rule.filters}")
    lines.append(f"At: {firing.at:%Y-%m-%d %H:%M} UTC")
    page = f"{base_url}/sites/{site.domain}/alerts"
    lines += ["", f"Dashboard: {base_url}/sites/{site.domain}/", f"Alerts: {page}"]
    text = "\n".join(lines) + "\n"
    html = (
        f"<p><strong>{escape(headline)}</strong></p><ul>"
        + "".join(f"<li>{escape(line)}</li>" for line in lines[2:] if line)
        + "</ul>"
    )
    data: dict[str, Any] = {
        "kind": firing.kind,
        "site": site.domain,
        "rule": {
            "id": rule.pk,
            "name": rule.name,
            "metric": metric,
            "goal": rule.goal_name or None,
            "filters": rule.filters,
            "window": rule.window,
            "condition": rule.condition,
            "threshold": rule.threshold,
        },
        "value": firing.value,
        "baseline": firing.baseline,
        "at": firing.at.isoformat().replace("+00:00", "Z"),
        "url": page,
    }
    return Message(
        event=EVENTS[firing.kind],
        subject=f"[Trail] {site.domain}: {headline}"[:250],
        text=text,
        html=html,
        data=data,
    )
