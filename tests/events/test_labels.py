"""Plausible's labels are fixed points: a stored label never maps to something else."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from events.enrich.labels import BROWSERS, OPERATING_SYSTEMS


@pytest.mark.parametrize("table", [BROWSERS, OPERATING_SYSTEMS], ids=["browsers", "os"])
def test_labels_map_to_themselves(table: Mapping[str, str]) -> None:
    assert {label: table.get(label, label) for label in table.values()} == {
        label: label for label in table.values()
    }


def test_tables_are_read_only() -> None:
    with pytest.raises(TypeError):
        BROWSERS["Edge"] = "Edge"  # type: ignore[index]
