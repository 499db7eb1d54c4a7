"""Filters (`[op, dimension, clauses]`, nested with and/or/not) as SQL on one table.

A condition on a dimension the table holds compares its expression with the bound
clauses. A condition on a dimension only the other table holds becomes a guarded subquery
on `session_id`: on `events`, "visit:source is Google" keeps the events of visits from
Google; on `sessions`, "event:page is /blog" keeps visits with a pageview of /blog, and a
negated operator keeps visits with *no* matching event (Plausible's meaning).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from accounts.errors import ServiceError
from reports.query import BEHAVIORAL, NEGATED, Combined, Condition, Filter, ReportQuery
from reports.sql.builder import Expr, Select, all_of, any_of, in_subquery, negate
from reports.sql.catalog import (
    EVENTS,
    SESSIONS,
    Binder,
    date_condition,
    dimension_sql,
    fixed_per_visit,
    goal_condition,
    labelled_column,
    on_table,
)

# How far outside the report's range a visit may reach: a visit that started before the
# range keeps its events inside it, and a visit's later events may fall after it.
VISIT_REACH = dt.timedelta(days=1)


@dataclass
class FilterCompiler:
    query: ReportQuery
    binder: Binder
    # A sampled report's subqueries read the same sample: both tables are SAMPLE BY
    # visitor_id, so a fraction selects the same visitors in each.
    sample: float | None = None

    def compile(self, filters: tuple[Filter, ...], table: str) -> Expr:
        return all_of(self._node(f, table) for f in filters)

    def _node(self, node: Filter, table: str) -> str | Expr:
        if isinstance(node, Combined) and node.op in BEHAVIORAL:
            matching = in_subquery("session_id", self._visits_doing(node.children[0]))
            return matching if node.op == "has_done" else negate(matching)
        if isinstance(node, Combined):
            children = [self._node(child, table) for child in node.children]
            if node.op == "not":
                return negate(children[0])
            return all_of(children) if node.op == "and" else any_of(children)
        if on_table(node.dimension, table):
            return self._condition(node, table)
        positive = Condition(
            NEGATED.get(node.op, node.op), node.dimension, node.clauses, node.case_sensitive
        )
        other = SESSIONS if table == EVENTS else EVENTS
        matching = in_subquery("session_id", self._visits_where(positive, other))
        return negate(matching) if node.op in NEGATED else matching

    def _visits_doing(self, node: Filter) -> Select:
        """The visits with an event in the range (or after it, while the visit lasts)
        matching `node` (event dimensions only: reports/parse.py)."""
        span = self.query.date_range
        where = (
            date_condition(EVENTS, self.binder, span.start, span.end + VISIT_REACH),
            self._node(node, EVENTS),
        )
        return Select(
            site_id=self.query.site_id,
            table=EVENTS,
            columns=("session_id",),
            where=where,
            sample=self.sample,
        )

    def _visits_where(self, condition: Condition, table: str) -> Select:
        span = self.query.date_range
        start, end = span.start, span.end
        if table == SESSIONS:
            start -= VISIT_REACH
        else:
            end += VISIT_REACH
        where = (date_condition(table, self.binder, start, end), self._condition(condition, table))
        if table == SESSIONS and fixed_per_visit(condition.dimension):
            # Any state row (sign 1) of a visit holds the visit's value: no need to collapse.
            return Select(
                site_id=self.query.site_id,
                table=SESSIONS,
                columns=("session_id",),
                where=(*where, "sign = 1"),
                sample=self.sample,
            )
        if table == SESSIONS:
            return Select(
                site_id=self.query.site_id,
                table=SESSIONS,
                columns=("session_id",),
                where=where,
                group_by=("session_id",),
                having=("sum(sign) > 0",),
                sample=self.sample,
            )
        return Select(
            site_id=self.query.site_id,
            table=EVENTS,
            columns=("session_id",),
            where=where,
            sample=self.sample,
        )

    def _condition(self, condition: Condition, table: str) -> str | Expr:
        if condition.dimension == "event:goal":
            return self._goal_condition(condition)
        labelled = labelled_column(condition.dimension)
        if labelled is not None and NEGATED.get(condition.op, condition.op) == "is":
            return compare_labelled(*labelled, condition, self.binder)
        expression = dimension_sql(
            condition.dimension,
            table,
            self.binder,
            timezone=self.query.timezone,
            first_day=self.query.date_range.first,
        )
        return compare(expression, condition, self.binder)

    def _goal_condition(self, condition: Condition) -> str | Expr:
        positive = NEGATED.get(condition.op, condition.op)
        chosen = [
            goal
            for goal in self.query.goals
            if _text_matches(goal.name, positive, condition.clauses, condition.case_sensitive)
        ]
        matching = any_of(goal_condition(goal, self.binder) for goal in chosen)
        return negate(matching) if condition.op in NEGATED else matching


def _text_matches(text: str, op: str, clauses: tuple[str, ...], case_sensitive: bool) -> bool:
    folded = text if case_sensitive else text.lower()
    values = clauses if case_sensitive else tuple(c.lower() for c in clauses)
    if op == "is":
        return folded in values
    if op == "contains":
        return any(value in folded for value in values)
    flags = 0 if case_sensitive else re.IGNORECASE
    return any(re.search(value, text, flags) for value in clauses)


def compare_labelled(column: str, empty: str, condition: Condition, binder: Binder) -> str:
    """`is` (or `is_not`) on a column shown as `empty` when it is '': the column itself
    against the clauses, with '' standing for the label. The same rows as comparing the
    labelled expression (`if(column = '', empty, column)`), which ClickHouse computes row by
    row: this form halves the cost of a visit filter on `sessions` (docs/benchmarks.md)."""
    sensitive = condition.case_sensitive
    wanted = set(condition.clauses if sensitive else (c.lower() for c in condition.clauses))
    label = empty if sensitive else empty.lower()  # labels are ASCII: lower() agrees
    values = sorted(wanted - {""}) + ([""] if label in wanted else [])
    if not values:  # only '' asked, and no stored value is shown as ''
        sql = "0"
    else:
        subject = column if sensitive else f"lower({column})"
        sql = f"{subject} IN {binder.bind(values, 'Array(String)')}"
    return f"NOT ({sql})" if condition.op in NEGATED else sql


def compare(expression: str, condition: Condition, binder: Binder) -> str:
    """`expression` against the condition's clauses, every clause a bound value."""
    positive = NEGATED.get(condition.op, condition.op)
    sensitive = condition.case_sensitive
    if positive == "is":
        values = list(condition.clauses if sensitive else (c.lower() for c in condition.clauses))
        subject = expression if sensitive else f"lower({expression})"
        sql = f"{subject} IN {binder.bind(values, 'Array(String)')}"
    elif positive == "contains":
        function = "multiSearchAny" if sensitive else "multiSearchAnyCaseInsensitiveUTF8"
        sql = f"{function}({expression}, {binder.bind(list(condition.clauses), 'Array(String)')})"
    elif positive == "matches":
        patterns = [c if sensitive else f"(?i){c}" for c in condition.clauses]
        array = binder.bind(patterns, "Array(String)")
        sql = f"arrayExists(pattern -> match({expression}, pattern), {array})"
    else:  # parse() admits only the operators above
        raise ServiceError(f"unknown operator {condition.op!r}", field="filters")
    return f"NOT ({sql})" if condition.op in NEGATED else sql
