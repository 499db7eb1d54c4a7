"""The flush gives way to ingest: the Celery worker lowers its own CPU priority."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.helpers import PYTHON, child, child_env
from trail import priority
from trail.priority import autogroup_nice

REPORT = (
    "import os; from trail import priority; before = priority.autogroup_nice(); "
    "priority.lower({nice}); "
    "print(os.getpriority(os.PRIO_PROCESS, 0), before, priority.autogroup_nice())"
)


def _run(argv: list[str], env: Mapping[str, str], own_session: bool = False) -> list[str]:
    """What the child printed, split; it must succeed."""
    done = child(argv, env, timeout=60, own_session=own_session)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def _lowered(nice: int, var: Path, *, own_session: bool) -> tuple[int, str, str]:
    """The child's niceness, and its autogroup's before and after ("None" where the kernel
    shows none: a kernel without autogroups, or a process in the boot session's group)."""
    argv = [PYTHON, "-c", REPORT.format(nice=nice)]
    process, before, after = _run(argv, child_env(var), own_session)
    return int(process), before, after


def test_a_session_leader_lowers_itself_and_its_autogroup(tmp_path: Path) -> None:
    process, before, after = _lowered(7, tmp_path, own_session=True)
    assert process == 7
    assert after == ("None" if before == "None" else "7")


def test_a_process_in_a_shared_session_leaves_the_group_alone(tmp_path: Path) -> None:
    process, before, after = _lowered(7, tmp_path, own_session=False)
    assert process == 7
    assert after == before


def test_zero_changes_nothing_and_a_lower_priority_is_never_raised(tmp_path: Path) -> None:
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert _lowered(0, tmp_path, own_session=True)[0] == own
    niced = ["nice", "-n", "19", PYTHON, "-c", REPORT.format(nice=5)]
    assert int(_run(niced, child_env(tmp_path))[0]) == 19


GROUP_AT_15 = (
    "from trail import priority; shown = priority.autogroup_nice() is not None; "
    "shown and priority.AUTOGROUP.write_text('15'); priority.lower(5); "
    "print(shown, priority.autogroup_nice())"
)


def test_a_session_group_already_lower_is_never_raised(tmp_path: Path) -> None:
    shown, group = _run([PYTHON, "-c", GROUP_AT_15], child_env(tmp_path), own_session=True)
    assert group == ("15" if shown == "True" else "None")


@pytest.mark.parametrize("value", ["", "10"])
def test_the_default_is_ten(tmp_path: Path, value: str) -> None:
    from trail.config import load

    env = {"TRAIL_VAR_DIR": str(tmp_path)}
    if value:
        env["TRAIL_FLUSH_NICE"] = value
    assert load(env).ingest.flush_nice == 10


WORKER_START = (
    "import os, django; django.setup(); from trail.celery import _prepare_worker; "
    "_prepare_worker(); print(os.getpriority(os.PRIO_PROCESS, 0))"
)


@pytest.mark.django_db
def test_a_celery_worker_lowers_its_priority_as_it_starts(tmp_path: Path) -> None:
    from django.conf import settings

    from tests.clickhouse_http import serve

    with serve(settings.CLICKHOUSE.data_dir) as url:
        env = child_env(tmp_path, CLICKHOUSE_URL=url, TRAIL_FLUSH_NICE="6")
        printed = _run([PYTHON, "-c", WORKER_START], env, own_session=True)
    assert printed[-1] == "6"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("/autogroup-85 nice 3\n", 3), ("", None), ("nonsense", None), ("/autogroup-1 nice x", None)],
)
def test_an_unreadable_autogroup_is_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: int | None
) -> None:
    group = tmp_path / "autogroup"
    group.write_text(text)
    monkeypatch.setattr(priority, "AUTOGROUP", group)
    assert autogroup_nice() == expected
    monkeypatch.setattr(priority, "AUTOGROUP", tmp_path / "missing")
    assert autogroup_nice() is None
