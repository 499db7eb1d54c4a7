"""What a report mail says: the period's numbers, read through the Stats API's entry point
(`reports.stats.answer`) and the dashboard's panel catalog (`reports.panels`), so the mail
shows what the dashboard shows for the same days."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from digests.periods import Period
from reports.panels import PANELS, series, tab_results
from reports.stats import answer
from sites.models import Site

TOP = (
    ("visitors", "Unique visitors"),
    ("visits", "Total visits"),
    ("pageviews", "Total pageviews"),
    ("bounce_rate", "Bounce rate"),
    ("visit_duration", "Visit duration"),
)
LISTS = (
    ("Top pages", "pages", "pages"),
    ("Top sources", "sources", "sources"),
    ("Countries", "locations", "countries"),
)
ROWS = 5


@dataclass(frozen=True)
class Listing:
    title: str
    headers: tuple[str, ...]
    rows: list[tuple[str, list[Any]]]  # (label, metric values)


@dataclass(frozen=True)
class Content:
    site: Site
    period: Period
    stats: list[dict[str, Any]]  # metric, label, value, previous, change (as the dashboard)
    daily_visitors: list[int]
    listings: list[Listing]
    goals: Listing | None


def _base(site: Site, period: Period) -> dict[str, Any]:
    return {
        "site_id": site.domain,
        "date_range": [period.first.isoformat(), period.last.isoformat()],
    }


def _stats(site: Site, base: dict[str, Any]) -> list[dict[str, Any]]:
    body = {
        **base,
        "metrics": [metric for metric, _ in TOP],
        "include": {"comparisons": {"mode": "previous_period"}},
    }
    [row] = answer(site=site, body=body)["results"]
    previous = row["comparison"]
    return [
        {
            "metric": metric,
            "label": label,
            "value": row["metrics"][i],
            "previous": previous["metrics"][i],
            "change": previous["change"][i],
        }
        for i, (metric, label) in enumerate(TOP)
    ]


def _listing(site: Site, base: dict[str, Any], title: str, panel: str, tab: str) -> Listing:
    chosen = PANELS[panel].tabs[tab]
    _, results = tab_results(site, base, panel, tab, limit=ROWS)
    rows = [(str(r["dimensions"][0]), list(r["metrics"])) for r in results]
    return Listing(title, chosen.headers, rows)


def gather(site: Site, period: Period) -> Content:
    base = _base(site, period)
    daily = series(site, base, metric="visitors", interval="day")
    goals = _listing(site, base, "Goals", "goals", "goals") if site.goals.exists() else None
    return Content(
        site=site,
        period=period,
        stats=_stats(site, base),
        daily_visitors=[int(v) for v in daily["values"]],
        listings=[_listing(site, base, *spec) for spec in LISTS],
        goals=goals,
    )
