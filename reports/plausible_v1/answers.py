"""Stats API v2 answers → Plausible's Stats API v1 shapes (docs/stats-api-v1.md): what
`reports/plausible_v1/params.py` translated a v1 request into, shaped back. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reports.plausible_v1.params import Translation


def aggregate_results(translation: Translation, answer: Mapping[str, Any]) -> dict[str, Any]:
    """`{"results": {metric: {"value": …[, "comparison_value": …, "change": …]}}}`."""
    [row] = answer["results"] or [{"metrics": [0 for _ in translation.metrics]}]
    results: dict[str, Any] = {}
    for i, metric in enumerate(translation.metrics):
        entry: dict[str, Any] = {"value": row["metrics"][i]}
        if "comparison" in row:
            before = row["comparison"]["metrics"][i]
            entry["comparison_value"] = before
            entry["change"] = row["comparison"]["change"][i]  # reports.stats.change
        results[metric] = entry
    return {"results": results}


def _empty(metric: str) -> int | float | None:
    """A bucket without data, as Plausible fills it: no visit duration (null), zero else."""
    if metric == "visit_duration":
        return None
    return 0.0 if metric in ("views_per_visit", "conversion_rate") else 0


def _month_start(label: str) -> str:
    return f"{label[:7]}-01"


def timeseries_results(translation: Translation, answer: Mapping[str, Any]) -> dict[str, Any]:
    """`{"results": [{"date": label, metric: value, …}]}`, every bucket of the range. A
    month is labelled by its first day even when the range starts later in it (Plausible's
    rule; v2 labels that bucket by the range's first day)."""
    found = {row["dimensions"][0]: row["metrics"] for row in answer["results"]}
    labels = answer["meta"].get("time_labels") or list(found)
    by_month = translation.body.get("dimensions") == ["time:month"]
    results = []
    for label in labels:
        values = found.get(label)
        row: dict[str, Any] = {"date": _month_start(label) if by_month else label}
        for i, metric in enumerate(translation.metrics):
            row[metric] = values[i] if values is not None else _empty(metric)
        results.append(row)
    return {"results": results}


def breakdown_results(translation: Translation, answer: Mapping[str, Any]) -> dict[str, Any]:
    """`{"results": [{<property key>: value, metric: value, …}]}`, in v2's order."""
    results = []
    for row in answer["results"]:
        entry: dict[str, Any] = dict(zip(translation.keys, row["dimensions"], strict=True))
        for i, metric in enumerate(translation.metrics):
            entry[metric] = row["metrics"][i]
        results.append(entry)
    return {"results": results}
