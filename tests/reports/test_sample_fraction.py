"""`reports.sampling._fraction`: the share of visitors a report reads above its row target.
A range just over the target rounds to 1.0, which is no sample: it reads as none (the SQL has
no `SAMPLE`, `meta.sampled` is false, and a top list under a filter on the other table is
not ranked in a second full pass)."""

from __future__ import annotations

import pytest

from reports.sampling import MIN_SAMPLE, _fraction


@pytest.mark.parametrize(
    ("rows", "target", "expected"),
    [
        (9_999_999, 10_000_000, None),  # under the target: everything
        (10_000_000, 10_000_000, None),  # at it
        (10_000_001, 10_000_000, None),  # just over: 0.99999990 rounds to 1.0, no sample
        (10_049_999, 10_000_000, None),  # 0.995… rounds to 1.0 too
        (10_060_000, 10_000_000, 0.99),  # the first real sample
        (20_000_000, 10_000_000, 0.5),
        (10**13, 10_000_000, MIN_SAMPLE),  # never under 1 %
    ],
)
def test_fraction(rows: int, target: int, expected: float | None) -> None:
    assert _fraction(rows, target) == expected
