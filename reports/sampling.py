"""How much of a report's range its queries read: every row, or a sample of visitors.

Above `TRAIL_REPORT_SAMPLE_ROWS` event rows in the range (the primary index's estimate, no
data read), every query reads `SAMPLE k` of visitors, `k` = threshold ÷ rows (at least
`MIN_SAMPLE`); the runner scales counts by 1/k. Below it, a short top list (the
dashboard's) is still ranked on a sample of about `RANK_ROWS` rows when the range holds
more than twice that. Reports and funnels decide alike (docs/reports.md, "Sampling").
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from reports.query import ReportQuery
from reports.sql.builder import estimate_rows
from reports.sql.selects import rows_in_range_select

MIN_SAMPLE = 0.01
RANK_ROWS = 2_000_000
SHORT_LIST = 100


@dataclass(frozen=True)
class Sampling:
    fraction: float | None  # of visitors every query reads; None: all of them
    rank_fraction: float | None  # of visitors a short top list is ranked on


def _fraction(rows: int, target: int) -> float | None:
    """The share of visitors to read so that about `target` of `rows` are; None for all of
    them (a range just over the target rounds to 1.0: that is no sample, and reads as
    none, not as a report sampled at 100 %)."""
    if rows <= target:
        return None
    fraction = max(MIN_SAMPLE, round(target / rows, 2))
    return None if fraction >= 1 else fraction


def sampling(query: ReportQuery) -> Sampling:
    """Above `TRAIL_REPORT_SAMPLE_ROWS` rows, every query reads a sample of visitors. Below
    it, a short top list (the dashboard's) is still ranked on a sample of about
    `RANK_ROWS` rows when the range holds more than twice that: the order of the top rows
    barely changes, and their metrics are then computed exactly."""
    if query.sampling == "exact":
        return Sampling(None, None)
    if isinstance(query.sampling, float):
        fraction = None if query.sampling >= 1 else query.sampling
        return Sampling(fraction, fraction)
    rows = estimate_rows(rows_in_range_select(query))
    fraction = _fraction(rows, settings.TRAIL.report_sample_rows)
    if fraction is not None or query.offset + query.limit > SHORT_LIST:
        return Sampling(fraction, fraction)
    return Sampling(None, _fraction(rows, 2 * RANK_ROWS) and _fraction(rows, RANK_ROWS))
