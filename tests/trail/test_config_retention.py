"""TRAIL_RETENTION_MAX_DAYS (trail/config.py): the most days any site keeps raw events."""

from __future__ import annotations

from pathlib import Path

import pytest

from trail.config import ConfigError, load


def test_unset_is_no_limit_and_a_number_is_days(tmp_path: Path) -> None:
    env = {"TRAIL_VAR_DIR": str(tmp_path)}
    assert load(env).retention_max_days is None
    assert load({**env, "TRAIL_RETENTION_MAX_DAYS": "730"}).retention_max_days == 730
    assert load({**env, "TRAIL_RETENTION_MAX_DAYS": " 1_095 "}).retention_max_days == 1095


@pytest.mark.parametrize("value", ["0", "-30", "two years", "30.5", "1e3"])
def test_bad_values_stop_start_up_naming_the_variable(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="^TRAIL_RETENTION_MAX_DAYS: expected a whole number"):
        load({"TRAIL_VAR_DIR": str(tmp_path), "TRAIL_RETENTION_MAX_DAYS": value})
