"""The evaluator: every enabled rule looked at, every minute (`alerts.jobs`).

One cycle: the rules (one query, with their sites and goals), grouped per site by what
they read — rules with the same window, filters and goal share one report with all their
metrics (and its previous window, when one of them compares); current visitors share
realtime's count per filter set. The reports run a few at a time on threads (ClickHouse
answers them in parallel), then each rule's condition is decided here:

- ok → holds: fires (an `AlertFiring` of kind "firing", sent through every channel),
  unless the rule fired within its cooldown: then it stays ok and is asked again next
  minute, so a condition that still holds when the cooldown ends fires then;
- firing → no longer holds: "cleared", sent the same way;
- otherwise nothing is sent; the value, the time and any error are kept on the rule.

A group whose report fails (a goal deleted, a filter on a goal that is gone) records the
error on its rules and the cycle goes on. The state changes by compare-and-set, so two
cycles at once (a slow one and the next) cannot send the same firing twice.

Windows end at `now` and are exact instants, not the Stats API's local days: the report
is the query layer's own (`reports.runner.execute`) over a range of instants, raw rows,
exact (no sampling), through the same filter compiler and site guard as every report.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.errors import ServiceError
from alerts import messages
from alerts.models import AlertFiring, AlertRule
from alerts.rules import CHANGES, GOAL_METRICS, window_delta
from notify import channels as notify_channels
from reports import dates, realtime
from reports.parse import parse_filters
from reports.query import GoalDefinition, ReportQuery
from reports.runner import execute
from reports.sql.builder import run
from reports.stats import metric_value
from sites.models import Goal, Site

logger = logging.getLogger(__name__)

# The Stats API's metric a rule's metric is read as (a goal's conversions: its converted
# visitors, as Plausible's "unique conversions", under the goal's filter).
REPORT_METRIC = {
    "visitors": "visitors",
    "pageviews": "pageviews",
    "visits": "visits",
    "bounce_rate": "bounce_rate",
    "visit_duration": "visit_duration",
    "events": "events",
    "conversions": "visitors",
    "conversion_rate": "conversion_rate",
}
CURRENT = "current_visitors"
THREADS = 4  # reports at once: ClickHouse answers them in parallel


@dataclass(frozen=True)
class Span(dates.DateRange):
    """A range of instants `[since, until)`: its local days (`first`, `last`) are those it
    touches, which the filters' visit subqueries start from; every read is bounded by
    `start` and `end`, which are the instants themselves."""

    since: dt.datetime = dt.datetime.min.replace(tzinfo=dt.UTC)
    until: dt.datetime = dt.datetime.min.replace(tzinfo=dt.UTC)

    @property
    def start(self) -> dt.datetime:
        return self.since

    @property
    def end(self) -> dt.datetime:
        return self.until


def span(since: dt.datetime, until: dt.datetime, timezone_name: str) -> Span:
    zone = dates.zone(timezone_name)
    last = (until - dt.timedelta(microseconds=1)).astimezone(zone).date()
    first = min(since.astimezone(zone).date(), last)
    return Span(first, last, timezone_name, since, until)


@dataclass
class Group:
    """The rules of a site that read the same thing: one report answers them all."""

    site: Site
    window: str
    filters: list[Any]
    goal: str  # a goal's name ("" without)
    current: bool  # realtime's current visitors
    rules: list[AlertRule] = field(default_factory=list)

    @property
    def metrics(self) -> tuple[str, ...]:
        names = {REPORT_METRIC[r.metric] for r in self.rules if r.metric != CURRENT}
        return tuple(sorted(names))

    @property
    def compares(self) -> bool:
        return any(rule.condition in CHANGES for rule in self.rules)


@dataclass(frozen=True)
class Values:
    now: dict[str, float]
    before: dict[str, float] | None  # the previous window's, when a rule compares


@dataclass
class Cycle:
    """What one evaluation did (for the job's log, the tests and the benchmark)."""

    rules: int = 0
    groups: int = 0
    fired: int = 0
    cleared: int = 0
    errors: int = 0
    seconds: float = 0.0
    firings: list[AlertFiring] = field(default_factory=list)


def group_key(rule: AlertRule) -> tuple[Any, ...]:
    filters = json.dumps(rule.filters, sort_keys=True, separators=(",", ":"))
    if rule.metric == CURRENT:
        return (rule.site_id, "current", filters, "")
    goal = rule.goal_name if rule.metric in GOAL_METRICS else ""
    return (rule.site_id, rule.window, filters, goal)


def groups_of(rules: Iterable[AlertRule]) -> list[Group]:
    found: dict[tuple[Any, ...], Group] = {}
    for rule in rules:
        key = group_key(rule)
        if key not in found:
            found[key] = Group(
                site=rule.site,
                window=rule.window,
                filters=rule.filters,
                goal=key[3],
                current=rule.metric == CURRENT,
            )
        found[key].rules.append(rule)
    return list(found.values())


def _goals_by_site(site_ids: set[int]) -> dict[int, tuple[GoalDefinition, ...]]:
    """The sites' goals as the parser knows them, in one query (reports.context.site_goals
    per site would be one each)."""
    goals: dict[int, list[GoalDefinition]] = defaultdict(list)
    for goal in Goal.objects.filter(site_id__in=site_ids).order_by("id"):
        goals[goal.site_id].append(
            GoalDefinition(
                name=goal.display_name,
                kind="event" if goal.kind == Goal.Kind.EVENT else "page",
                value=goal.value,
                currency=goal.currency,
            )
        )
    return {site_id: tuple(found) for site_id, found in goals.items()}


def _read(group: Group, goals: tuple[GoalDefinition, ...], now: dt.datetime) -> Values:
    """The group's metrics over its window ending `now` (and the window before)."""
    for rule in group.rules:
        if rule.metric in GOAL_METRICS and rule.goal_id is None:
            raise ServiceError(
                f"the goal {rule.goal_name!r} of this rule was deleted", field="goal"
            )
    raw_filters = list(group.filters)
    if group.goal:
        raw_filters.append(["is", "event:goal", [group.goal]])
    filters = parse_filters(raw_filters, goals)
    if group.current:
        return _current(group, filters, goals, now)
    length = window_delta(group.window)
    site = group.site
    window = span(now - length, now, site.timezone)
    previous = span(now - 2 * length, now - length, site.timezone) if group.compares else None
    query = ReportQuery(
        site_id=site.pk,
        date_range=window,
        metrics=group.metrics,
        filters=filters,
        comparison=previous,
        sampling="exact",
        goals=goals,
    )
    report = execute(query, rollups=False)  # rollups answer whole hours; windows end now
    row = report.rows[0].metrics if report.rows else {}
    values = {m: float(metric_value(m, row.get(m, 0.0))) for m in query.metrics}
    before = None
    if previous is not None:
        other = (report.comparison or [None])[0] if report.rows else None
        found = other.metrics if other is not None else {}
        before = {m: float(metric_value(m, found.get(m, 0.0))) for m in query.metrics}
    return Values(values, before)


def _current(
    group: Group, filters: Any, goals: tuple[GoalDefinition, ...], now: dt.datetime
) -> Values:
    """Realtime's visitors now (the last 5 minutes), and of the 5 minutes before."""

    def count(moment: dt.datetime) -> float:
        window = realtime.Window(moment, filters=filters, goals=goals)
        rows = run(realtime.current_visitors_select(site=group.site, window=window))
        return float(rows[0]["visitors"]) if rows else 0.0

    now_value = count(now)
    before = {CURRENT: count(now - realtime.CURRENT)} if group.compares else None
    return Values({CURRENT: now_value}, before)


def value_of(rule: AlertRule, values: Values) -> tuple[float, float | None]:
    name = CURRENT if rule.metric == CURRENT else REPORT_METRIC[rule.metric]
    before = values.before.get(name) if values.before is not None else None
    return values.now.get(name, 0.0), before


def holds(condition: str, value: float, baseline: float | None, threshold: float) -> bool:
    """Does the condition hold? A change is relative to the previous window; from 0, any
    rise is a rise beyond every percentage and no fall is possible."""
    if condition == AlertRule.Condition.ABOVE:
        return value > threshold
    if condition == AlertRule.Condition.BELOW:
        return value < threshold
    if baseline is None:
        return False
    if condition == AlertRule.Condition.CHANGE_UP:
        if baseline == 0:
            return value > 0
        return 100 * (value - baseline) / baseline >= threshold
    if condition == AlertRule.Condition.CHANGE_DOWN:
        return baseline > 0 and 100 * (baseline - value) / baseline >= threshold
    raise ValueError(f"unknown condition {condition!r}")


def change_percent(value: float, baseline: float | None) -> float | None:
    if baseline is None or baseline == 0:
        return None
    return round(100 * (value - baseline) / baseline, 1)


def send(rule: AlertRule, firing: AlertFiring) -> list[str]:
    """The firing's message through every channel of the rule; the deliveries' ids. A
    channel that raises is logged and the others still go."""
    message = messages.build(rule, firing, base_url=settings.TRAIL.base_url)
    delivered: list[str] = []
    for spec in rule.channels:
        try:
            delivery = notify_channels.send(rule.site, spec, message, source=f"alert:{rule.pk}")
        except Exception:
            logger.exception("alert %s: channel %s failed", rule.pk, spec.get("type"))
            continue
        delivered.append(str(delivery.pk))
    if delivered:
        AlertFiring.objects.filter(pk=firing.pk).update(deliveries=delivered)
        firing.deliveries = delivered
    return delivered


def _decide(rule: AlertRule, value: float, baseline: float | None, now: dt.datetime) -> str:
    """ "fire", "clear" or "" (nothing to send) for this evaluation."""
    now_holds = holds(rule.condition, value, baseline, rule.threshold)
    if rule.state == AlertRule.State.OK and now_holds:
        quiet = rule.last_fired_at is not None and now - rule.last_fired_at < dt.timedelta(
            minutes=rule.cooldown
        )
        return "" if quiet else "fire"
    if rule.state == AlertRule.State.FIRING and not now_holds:
        return "clear"
    return ""


def _apply(
    rule: AlertRule, value: float, baseline: float | None, now: dt.datetime
) -> AlertFiring | None:
    """Record the evaluation; the firing to send, if the rule's state changed."""
    decision = _decide(rule, value, baseline, now)
    seen = {"last_value": value, "last_baseline": baseline, "last_evaluated_at": now, "error": ""}
    if not decision:
        AlertRule.objects.filter(pk=rule.pk).update(**seen)
        return None
    return _change(rule, decision, seen, now)


def _write_seen(rules: list[AlertRule], now: dt.datetime) -> None:
    """The value each of `rules` has now, in one statement run for every rule and one
    commit (SQLite: one fsync). Parameter-bound; Django's `bulk_update` builds a CASE per
    field and row in Python, which took longer than the whole cycle's reads."""
    if not rules:
        return
    table = connection.ops.quote_name(AlertRule._meta.db_table)
    field = AlertRule._meta.get_field("last_evaluated_at")
    moment = field.get_db_prep_value(now, connection)
    sql = (
        f"UPDATE {table} SET last_value = %s, last_baseline = %s,"  # noqa: S608 (a model's table)
        " last_evaluated_at = %s, error = '' WHERE id = %s"
    )
    rows = [(rule.last_value, rule.last_baseline, moment, rule.pk) for rule in rules]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _change(
    rule: AlertRule, decision: str, seen: dict[str, Any], now: dt.datetime
) -> AlertFiring | None:
    """Fire or clear `rule` by compare-and-set; the firing, or None if another cycle
    changed the rule first."""
    value, baseline = seen["last_value"], seen["last_baseline"]
    state = AlertRule.State.FIRING if decision == "fire" else AlertRule.State.OK
    changes: dict[str, Any] = {**seen, "state": state}
    if decision == "fire":
        changes["last_fired_at"] = now
    with transaction.atomic():
        won = AlertRule.objects.filter(
            pk=rule.pk, state=rule.state, last_fired_at=rule.last_fired_at
        ).update(**changes)
        if not won:  # another cycle changed it first
            return None
        firing = AlertFiring.objects.create(
            rule=rule,
            kind=AlertFiring.Kind.FIRING if decision == "fire" else AlertFiring.Kind.CLEARED,
            value=value,
            threshold=rule.threshold,
            baseline=baseline,
            at=now,
        )
    for name, new in changes.items():
        setattr(rule, name, new)
    return firing


def evaluate(
    *,
    now: dt.datetime | None = None,
    sites: Iterable[int] | None = None,
    threads: int = THREADS,
    on_read: Callable[[Group], None] | None = None,
) -> Cycle:
    """One cycle over every enabled rule (of `sites` only, when given), as of `now`."""
    started = time.monotonic()
    now = (now or timezone.now()).astimezone(dt.UTC)
    rules = AlertRule.objects.filter(enabled=True, site__deleted_at__isnull=True)
    if sites is not None:
        rules = rules.filter(site_id__in=list(sites))
    found = list(rules.select_related("site").order_by("site_id", "pk"))
    cycle = Cycle(rules=len(found))
    if not found:
        return cycle
    goals = _goals_by_site({rule.site_id for rule in found})
    groups = groups_of(found)
    cycle.groups = len(groups)

    def read(group: Group) -> Values | Exception:
        if on_read is not None:
            on_read(group)
        try:
            return _read(group, goals.get(group.site.pk, ()), now)
        except Exception as exc:  # recorded on the group's rules; the cycle goes on
            if not isinstance(exc, ServiceError):
                logger.exception("alerts: reading %s's rules failed", group.site.domain)
            return exc

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        answers = list(pool.map(read, groups))
    quiet: list[AlertRule] = []
    for group, answer in zip(groups, answers, strict=True):
        if isinstance(answer, Exception):
            message = _error_text(answer)
            ids = [rule.pk for rule in group.rules]
            AlertRule.objects.filter(pk__in=ids).update(error=message, last_evaluated_at=now)
            cycle.errors += len(ids)
            continue
        for rule in group.rules:
            value, baseline = value_of(rule, answer)
            decision = _decide(rule, value, baseline, now)
            seen = {"last_value": value, "last_baseline": baseline, "last_evaluated_at": now}
            if not decision:  # written all at once below
                rule.last_value, rule.last_baseline = value, baseline
                rule.last_evaluated_at, rule.error = now, ""
                quiet.append(rule)
                continue
            firing = _change(rule, decision, {**seen, "error": ""}, now)
            if firing is None:
                continue
            send(rule, firing)
            cycle.firings.append(firing)
            if firing.kind == AlertFiring.Kind.FIRING:
                cycle.fired += 1
            else:
                cycle.cleared += 1
    _write_seen(quiet, now)
    cycle.seconds = time.monotonic() - started
    return cycle


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ServiceError):
        return f"{exc.field}: {exc.message}" if exc.field else exc.message
    return f"the report failed: {type(exc).__name__}: {str(exc)[:500]}"


def send_test(rule: AlertRule, *, now: dt.datetime | None = None) -> AlertFiring:
    """A test message through the rule's channels, recorded as a firing of kind "test"
    (its state is left alone)."""
    firing = AlertFiring.objects.create(
        rule=rule,
        kind=AlertFiring.Kind.TEST,
        value=rule.last_value,
        threshold=rule.threshold,
        baseline=rule.last_baseline,
        at=(now or timezone.now()),
    )
    send(rule, firing)
    return firing
