"""The flush gives way to ingest: the Celery worker lowers its own CPU priority."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.helpers import PYTHON, REPO, child_env

REPORT = (
    "import os, pathlib; from trail import priority; priority.lower({nice}); "
    "group = pathlib.Path('/proc/self/autogroup'); "
    "print(os.getpriority(os.PRIO_PROCESS, 0), group.read_text().split()[-1] if group.exists() else '-')"
)


def _run(argv: list[str], env: Mapping[str, str], own_session: bool = False) -> list[str]:
    """What the child printed, split; it must succeed."""
    done = subprocess.run(
        argv,
        cwd=REPO,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
        start_new_session=own_session,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def _lowered(nice: int, var: Path, *, own_session: bool) -> tuple[int, str]:
    argv = [PYTHON, "-c", REPORT.format(nice=nice)]
    process, group = _run(argv, child_env(var), own_session)
    return int(process), group


def test_a_session_leader_lowers_itself_and_its_autogroup(tmp_path: Path) -> None:
    process, group = _lowered(7, tmp_path, own_session=True)
    assert process == 7
    if Path("/proc/self/autogroup").exists():
        assert group == "7"


def test_a_process_in_a_shared_session_leaves_the_group_alone(tmp_path: Path) -> None:
    process, group = _lowered(7, tmp_path, own_session=False)
    assert process == 7
    if Path("/proc/self/autogroup").exists():
        assert group == Path("/proc/self/autogroup").read_text().split()[-1]


def test_zero_changes_nothing_and_a_lower_priority_is_never_raised(tmp_path: Path) -> None:
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert _lowered(0, tmp_path, own_session=True)[0] == own
    niced = ["nice", "-n", "19", PYTHON, "-c", REPORT.format(nice=5)]
    assert int(_run(niced, child_env(tmp_path))[0]) == 19


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
