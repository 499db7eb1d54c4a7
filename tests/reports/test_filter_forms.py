"""A filter's cheaper SQL forms select exactly the rows of the plain form, on traffic seeded
through the real collector: `is`/`is_not` on a labelled column (`visit:channel`,
`visit:utm_medium`, `event:hostname`…) compares the column itself, '' standing for the
label (reports/sql/filters.py, `compare_labelled`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from reports.dates import DateRange
from reports.query import Condition, ReportQuery
from reports.sql.builder import Select, run
from reports.sql.catalog import (
    DIRECT,
    EVENTS,
    NONE,
    NOT_SET,
    SESSIONS,
    Binder,
    date_condition,
    dimension_sql,
    labelled_column,
    on_table,
)
from reports.sql.filters import FilterCompiler, compare
from sites.models import Site
from tests.reports.conftest import hit

pytestmark = pytest.mark.django_db

DAY = dt.datetime.now(dt.UTC).replace(hour=10, minute=0, second=0, microsecond=0) - dt.timedelta(
    days=2
)
MIN = dt.timedelta(minutes=1)


def traffic(site: Site) -> list[dict[str, Any]]:
    """Visits with and without a referrer and UTM tags, one with a source that is literally
    a label's text, and a page without a host (an empty hostname)."""
    own = f"https://{site.domain}/"
    return [
        hit(site, DAY, "/", ip="192.0.2.1", referrer="https://www.google.com/"),
        hit(site, DAY + MIN, "/pricing", ip="192.0.2.1", referrer=own),
        hit(site, DAY, "/", ip="192.0.2.2"),  # direct: empty source, channel "Direct"
        hit(site, DAY + 2 * MIN, "/a", ip="192.0.2.2"),
        hit(site, DAY, "/", ip="192.0.2.3", query="?utm_medium=Email&utm_source=News"),
        hit(site, DAY, "/", ip="192.0.2.4", query="?utm_medium=(none)&utm_source=(None)"),
        hit(site, DAY, "/", ip="192.0.2.5", query="?utm_medium=email"),
        hit(site, DAY, "/", ip="192.0.2.6", referrer="https://news.ycombinator.com/x"),
        hit(site, DAY, "/", ip="192.0.2.7", name="Signup", url="file:///tmp/page.html"),
    ]


DIMENSIONS = (
    "visit:channel",
    "visit:source",
    "visit:referrer",
    "visit:utm_medium",
    "visit:utm_source",
    "visit:country",
    "visit:device",
    "event:hostname",
)
CLAUSES = (
    (DIRECT,),
    (NONE,),
    (NOT_SET,),
    ("",),
    ("", NONE),
    ("Email", "(None)"),
    ("email",),
    ("Google", "Direct", "Hacker News"),
    ("Desktop", "nothing like it"),
)


@pytest.fixture
def site(make_site: Callable[..., Site], seed: Callable[..., None]) -> Site:
    made = make_site("forms.example")
    seed(made, traffic(made))
    return made


def _rows(site: Site, table: str, condition: Any, binder: Binder, span: DateRange) -> list[int]:
    found = run(
        Select(
            site_id=site.pk,
            table=table,
            columns=("cityHash64(session_id, timestamp, sign) AS row",)
            if table == SESSIONS
            else ("cityHash64(event_id) AS row",),
            where=(date_condition(table, binder, span.start, span.end), condition),
            params=binder.params,
            order_by=("row",),
        )
    )
    return [int(r["row"]) for r in found]


@pytest.mark.parametrize("dimension", DIMENSIONS)
def test_labelled_columns_compare_as_their_labels(site: Site, dimension: str) -> None:
    assert labelled_column(dimension) is not None
    first = DAY.date() - dt.timedelta(days=1)
    span = DateRange(first, first + dt.timedelta(days=3), "UTC")
    query = ReportQuery(site_id=site.pk, date_range=span, metrics=("visitors",))
    tables = [t for t in (EVENTS, SESSIONS) if on_table(dimension, t)]
    checked = 0
    for table in tables:
        for clauses in CLAUSES:
            for op in ("is", "is_not"):
                for sensitive in (True, False):
                    condition = Condition(op, dimension, clauses, sensitive)
                    plain_binder, cheap_binder = Binder(), Binder()
                    expression = dimension_sql(
                        dimension, table, plain_binder, timezone="UTC", first_day=first
                    )
                    plain = compare(expression, condition, plain_binder)
                    cheap = FilterCompiler(query, cheap_binder).compile((condition,), table)
                    assert "if(" not in cheap.sql
                    expected = _rows(site, table, plain, plain_binder, span)
                    assert _rows(site, table, cheap, cheap_binder, span) == expected, (
                        table,
                        condition,
                    )
                    checked += len(expected)
    assert checked  # the traffic reached the tables: the comparisons were not all empty


def test_the_seeded_values_include_empty_ones_and_label_lookalikes(site: Site) -> None:
    """The comparison above means something: both empty values (shown as labels) and a
    stored value that reads like a label are there."""
    found = run(
        Select(
            site_id=site.pk,
            table=SESSIONS,
            columns=(
                "countIf(referrer_source = '') AS no_source",
                "countIf(utm_medium = '') AS no_medium",
                "countIf(utm_medium = '(none)') AS none_medium",
            ),
        )
    )
    assert found[0]["no_source"] > 0 and found[0]["no_medium"] > 0
    assert found[0]["none_medium"] == 1
    hosts = run(Select(site_id=site.pk, table=EVENTS, columns=("countIf(hostname = '') AS n",)))
    assert hosts[0]["n"] == 1
