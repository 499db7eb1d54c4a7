"""The dashboard's filters in words, and the filter menu (issue 16.4).

A filter is `(dimension, operator, value)`, the URL's `f=dimension|operator|value`
(`frontend.dashboard.View.filters`). Here: the words a person reads for each ("Page is
/pricing", not `event:page is /pricing`), the chips above the panels (each edited in the
menu or removed by its link), the menu's dimensions and operators, and the values the menu
suggests for a dimension: its top values for the view, narrowed by a search
(`reports.stats.answer` with a case-insensitive `contains` filter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from frontend.dashboard import View, base_query
from reports.query import PROPS_PREFIX
from reports.stats import answer
from sites.models import Site

# The menu's dimensions, grouped as the panels are; every filterable dimension but custom
# properties (their keys depend on the event) is here (a test checks it against reports').
GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Pages",
        (
            ("event:page", "Page"),
            ("visit:entry_page", "Entry page"),
            ("visit:exit_page", "Exit page"),
            ("event:hostname", "Hostname"),
        ),
    ),
    (
        "Sources",
        (
            ("visit:source", "Source"),
            ("visit:referrer", "Referrer"),
            ("visit:channel", "Channel"),
            ("visit:utm_medium", "UTM medium"),
            ("visit:utm_source", "UTM source"),
            ("visit:utm_campaign", "UTM campaign"),
            ("visit:utm_content", "UTM content"),
            ("visit:utm_term", "UTM term"),
        ),
    ),
    (
        "Locations",
        (("visit:country", "Country"), ("visit:region", "Region"), ("visit:city", "City")),
    ),
    (
        "Devices",
        (
            ("visit:device", "Device"),
            ("visit:browser", "Browser"),
            ("visit:browser_version", "Browser version"),
            ("visit:os", "Operating system"),
            ("visit:os_version", "OS version"),
            ("visit:screen", "Screen size"),
        ),
    ),
    ("Goals and events", (("event:goal", "Goal"), ("event:name", "Event"))),
)
LABELS = {dimension: label for _, group in GROUPS for dimension, label in group}
# the menu offers every operator; regular expressions (RE2) last
OPERATOR_WORDS = {
    "is": "is",
    "is_not": "is not",
    "contains": "contains",
    "contains_not": "does not contain",
    "matches": "matches",
    "matches_not": "does not match",
}
SUGGESTIONS = 10
MAX_SEARCH = 200


def label(dimension: str) -> str:
    """A dimension in words: "Page", "UTM source", "Property plan"."""
    if dimension.startswith(PROPS_PREFIX):
        return f"Property {dimension.removeprefix(PROPS_PREFIX)}"
    return LABELS.get(dimension, dimension)


@dataclass(frozen=True)
class Chip:
    """A filter of the view as shown above the panels."""

    index: int
    dimension: str
    op: str
    value: str
    remove: str  # the view's URL query without it

    @property
    def subject(self) -> str:
        """The words before the value: `Page is` of `Page is /pricing`."""
        return f"{label(self.dimension)} {OPERATOR_WORDS[self.op]}"

    @property
    def raw(self) -> str:
        """The URL's `f` value."""
        return f"{self.dimension}|{self.op}|{self.value}"


@dataclass(frozen=True)
class Menu:
    """What `frontend/templates/frontend/_filters.html` shows."""

    chips: list[Chip]
    groups: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = GROUPS
    operators: tuple[tuple[str, str], ...] = tuple(OPERATOR_WORDS.items())


def menu(view: View, carry: Callable[[str], str]) -> Menu:
    """The filter menu and chips of a view; `carry` adds what every URL carries (a shared
    link's `auth`: `frontend.views.access.Access.query`)."""
    chips = [
        Chip(index=i, dimension=d, op=op, value=v, remove=carry(view.without_filter(i)))
        for i, (d, op, v) in enumerate(view.filters)
    ]
    return Menu(chips=chips)


def suggestions(site: Site, view: View, dimension: str, search: str = "") -> list[str]:
    """The top values of `dimension` for the view (by visitors), those containing `search`
    (any case) when given. The view's filters on the same dimension are left out: they are
    the ones being chosen."""
    if dimension not in LABELS:
        return []
    others = replace(view, filters=tuple(f for f in view.filters if f[0] != dimension))
    body: dict[str, Any] = {
        **base_query(others, site),
        "metrics": ["visitors"],
        "dimensions": [dimension],
        "order_by": [["visitors", "desc"]],  # exact, not ranked by a cheaper count
        "pagination": {"limit": SUGGESTIONS},
    }
    search = search.strip()[:MAX_SEARCH]
    if search:
        wanted = ["contains", dimension, [search], {"case_sensitive": False}]
        body["filters"] = [*body.get("filters", []), wanted]
    return [str(row["dimensions"][0]) for row in answer(site=site, body=body)["results"]]
