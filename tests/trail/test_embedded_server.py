"""The embedded server is one process; a second one on the same var/ is refused."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from events.clickhouse import ClickHouseLocked, lock
from tests.helpers import PYTHON, REPO, child, child_env, free_port, manage, serving


@pytest.fixture
def running_trail(isolated_var: Path) -> Iterator[tuple[Path, int]]:
    env = child_env(isolated_var)
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    with serving(env, port):
        yield isolated_var, port


def test_serves_healthz_from_one_process(running_trail: tuple[Path, int]) -> None:
    var, port = running_trail
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as response:  # noqa: S310
        body = json.loads(response.read())
    assert body["status"] == "ok"
    assert body["mode"] == "thread"
    assert body["clickhouse"] == {"ok": True, "backend": "embedded"}
    assert body["database"] == {"ok": True, "engine": "sqlite"}
    # The serving process holds the data directory.
    with pytest.raises(ClickHouseLocked, match=r"in use by another Trail process \(pid \d+\)"):
        lock.ensure_free(var / "clickhouse")


def test_second_process_on_the_same_var_is_refused(running_trail: tuple[Path, int]) -> None:
    var, _ = running_trail
    env = child_env(var)
    for command in (["serve", "--port", str(free_port())], ["migrate", "--noinput"]):
        result = manage(*command, env=env, timeout=60)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("trail: the embedded ClickHouse data directory")
        assert "in use by another Trail process" in last


def test_embedded_mode_refuses_several_workers(isolated_var: Path) -> None:
    result = manage("serve", "--workers", "2", env=child_env(isolated_var), timeout=60)
    assert result.returncode == 1
    assert "WEB_WORKERS: embedded mode serves from one process" in result.stderr
    assert "Traceback" not in result.stderr


def test_separate_celery_worker_is_refused_with_embedded_clickhouse(isolated_var: Path) -> None:
    env = child_env(isolated_var, REDIS_URL="redis://127.0.0.1:6379/15")
    result = child([PYTHON, "-m", "celery", "-A", "trail", "worker", "--pool", "solo"], env, 60)
    assert result.returncode != 0
    assert "a separate Celery worker needs a ClickHouse server: set CLICKHOUSE_URL" in result.stderr


def test_lock_is_per_process(tmp_path: Path) -> None:
    data_dir = tmp_path / "clickhouse"
    holder = subprocess.Popen(
        [
            PYTHON,
            "-c",
            "import sys, time; from pathlib import Path; from events.clickhouse import lock;"
            "lock.acquire(Path(sys.argv[1])); print('held', flush=True); time.sleep(60)",
            str(data_dir),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(ClickHouseLocked, match=f"pid {holder.pid}"):
            lock.acquire(data_dir)
    finally:
        holder.kill()
        holder.wait()
    # Once the holder is gone, the directory is free again.
    lock.acquire(data_dir)
    lock.ensure_free(data_dir)
    lock.release(data_dir)
