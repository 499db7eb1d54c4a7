"""Numbers as the dashboard writes them, one way everywhere (`{% load trail_format %}`).

- `percent`: a share or rate in percent, as Plausible writes them: a whole number as it is
  (the Stats API's bounce rate: `45%`), any other to one decimal (conversion rates and
  shares: `12.5%`, `50.0%`); used by the top stats, the panels and the funnels.
- `money`: a revenue value of the Stats API (`reports/revenue.py`'s money object) in its
  currency, `€9.50`.
- `stat_value`: a top stat's value by its metric (rates in percent, durations in seconds,
  revenue as money).
- `stat_change`: a top stat's change against the comparison period: `+12%`, `-3%`,
  `+1.2 pts` for rates; from nothing (the previous value 0) `new`, or `—` when it is still
  nothing, never `+100%`.
- `window`: a funnel's window in seconds in words (`30 minutes`, `2 hours`, `1 day`).
- `{% metric_cell panel tab index value %}`: a panel's cell, formatted by its column's metric.
"""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

PERCENT_METRICS = frozenset({"bounce_rate", "conversion_rate", "percentage"})
POINTS = frozenset({"bounce_rate", "conversion_rate"})  # changes of rates are in points
NOTHING = "—"


def _decimal(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


@register.filter
def percent(value: Any) -> str:
    if value is None or value == "" or isinstance(value, bool):
        return NOTHING
    if isinstance(value, int):
        return f"{value}%"
    return f"{float(value):.1f}%"


@register.filter
def money(value: Any) -> str:
    if not isinstance(value, dict):
        return NOTHING
    return str(value["long"])


@register.filter
def stat_value(stat: dict[str, Any]) -> str:
    metric, value = stat["metric"], stat["value"]
    if metric in PERCENT_METRICS:
        return percent(value)
    if metric.endswith("_revenue"):
        return money(value)
    if metric == "visit_duration":
        return f"{value} s"
    return str(value)


def _amount(value: Any) -> float:
    return float(value["value"]) if isinstance(value, dict) else float(value or 0)


@register.filter
def stat_change(stat: dict[str, Any]) -> str:
    change = stat.get("change")
    if change is None:
        return ""
    previous, current = _amount(stat.get("previous")), _amount(stat["value"])
    if previous == 0:
        return "new" if current > 0 else NOTHING
    sign = "+" if change > 0 else ""
    if stat["metric"] in POINTS:
        return f"{sign}{_decimal(float(change))} pts"
    return f"{sign}{change}%"


@register.simple_tag
def metric_cell(panel: Any, tab: str, index: int, value: Any) -> str:
    """A panel's cell: a percentage by its column's metric, else the value as it is."""
    metrics = panel.tabs[tab].metrics
    if index < len(metrics) and metrics[index] in PERCENT_METRICS:
        return percent(value)
    return str(value)


@register.filter
def window(seconds: int) -> str:
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"
