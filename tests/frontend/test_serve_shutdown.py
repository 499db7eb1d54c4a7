"""Stopping `manage.py serve` as a terminal's Ctrl-C (or `kill -TERM -<pgid>`) does: the
signal reaches the supervisor and its worker at once. Every stop must end within 10 s, and
an event answered 202 just before the signal must be in ClickHouse after the next start.

The 20 start/stop cycles run on two installs at once, 10 each (the hang they guard against
showed 3 times in 20 stops; fewer would catch it less often). A start is ~2 s of one
core's work, and the suite runs on one core of two: together they take about half the
time, and each stop is made with a neighbour loading the machine, not an idle one.
"""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from events.spool import backlog
from tests.helpers import child_env, free_port, manage, start_server, stop_server

DOMAIN = "shutdown.test"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"
EXIT_BOUND = 10.0
SETUP = (
    "from accounts.models import User; from accounts.services import organization_create;"
    "from sites.services import site_create;"
    "owner = User.objects.create_user(email='owner@shutdown.test', password='x' * 20);"
    f"site_create(organization=organization_create(name='Shutdown', owner=owner), domain={DOMAIN!r})"
)


def _prepared(var: Path) -> dict[str, str]:
    env = child_env(var, LOG_LEVEL="INFO")
    for command in (["migrate", "--noinput"], ["shell", "-c", SETUP]):
        done = manage(*command, env=env)
        assert done.returncode == 0, done.stderr
    return env


@pytest.fixture(scope="module")
def trail_envs(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, str]]:
    """Two migrated var/ dirs with a site each (prepared at once), for the module's starts."""
    vars_ = [tmp_path_factory.mktemp("var") for _ in range(2)]
    with ThreadPoolExecutor(len(vars_)) as pool:
        return list(pool.map(_prepared, vars_))


@pytest.fixture(scope="module")
def trail_env(trail_envs: list[dict[str, str]]) -> dict[str, str]:
    return trail_envs[0]


def post_event(port: int, path: str) -> None:
    body = {"n": "pageview", "u": f"https://{DOMAIN}{path}", "d": DOMAIN}
    request = urllib.request.Request(  # noqa: S310 (loopback)
        f"http://127.0.0.1:{port}/api/event",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "text/plain", "User-Agent": UA},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 202
        assert response.headers.get("X-Trail-Dropped") is None


def stored(env: Mapping[str, str], path: str) -> int:
    """Events of `path` in the var/ dir's ClickHouse (read while Trail is stopped)."""
    sql = "SELECT count() AS n FROM events WHERE pathname = {path:String}"
    code = (
        "from events.clickhouse import get_client;"
        f"print(get_client().query({sql!r}, {{'path': {path!r}}})[0]['n'])"
    )
    done = manage("shell", "-c", code, env=env)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


def spooled(env: Mapping[str, str], path: str) -> bool:
    """Whether an event of `path` waits in the spool's segments on disk."""
    spool = Path(env["TRAIL_VAR_DIR"]) / "spool"
    return any(path.encode() in segment.read_bytes() for segment in spool.iterdir())


def log_of(env: Mapping[str, str]) -> Path:
    return Path(env["TRAIL_VAR_DIR"]) / "serve.log"


def _cycles(env: dict[str, str], cycles: range) -> list[tuple[str, float, int | None]]:
    """Start and stop Trail on `env` once per cycle: (signal, seconds, exit status) each."""
    stops = []
    for cycle in cycles:
        sig = signal.SIGINT if cycle % 2 == 0 else signal.SIGTERM
        port = free_port()
        server = start_server(env, port, log=log_of(env))
        for n in range(5):  # the spool, the flusher and chDB's pools at work
            post_event(port, f"/cycle/{cycle}/{n}")
        seconds = stop_server(server, sig, timeout=EXIT_BOUND + 5)
        stops.append((sig.name, round(seconds, 2), server.returncode))
    return stops


def test_every_group_stop_ends_within_the_bound(trail_envs: list[dict[str, str]]) -> None:
    """20 starts, each stopped by SIGINT or SIGTERM (in turn) to the whole process group:
    10 on each install, both installs at once."""
    with ThreadPoolExecutor(len(trail_envs)) as pool:
        runs = list(pool.map(_cycles, trail_envs, (range(0, 10), range(10, 20))))
    stops = [stop for run in runs for stop in run]
    assert len(stops) == 20
    assert {name for name, _, _ in stops} == {"SIGINT", "SIGTERM"}
    slow_or_failed = [stop for stop in stops if stop[1] > EXIT_BOUND or stop[2] != 0]
    assert not slow_or_failed, f"stops (signal, seconds, exit status): {stops}"
    # The supervisor stopped its worker in order (it never found it gone on its own).
    for env in trail_envs:
        assert "Unexpected exit" not in log_of(env).read_text()


def test_an_event_accepted_just_before_the_signal_is_stored_after_a_restart(
    trail_env: dict[str, str],
) -> None:
    port = free_port()
    server = start_server(trail_env, port, log=log_of(trail_env))
    post_event(port, "/last-before-stop")
    assert stop_server(server, signal.SIGTERM) < EXIT_BOUND
    assert server.returncode == 0
    # Stopped: the event is on disk in the spool, or the flusher stored it before the stop.
    assert spooled(trail_env, "/last-before-stop") or stored(trail_env, "/last-before-stop") == 1

    port = free_port()
    server = start_server(trail_env, port, log=log_of(trail_env))
    spool = Path(trail_env["TRAIL_VAR_DIR"]) / "spool"
    deadline = time.monotonic() + 30
    while backlog(spool).segments and time.monotonic() < deadline:
        time.sleep(0.2)
    stop_server(server)
    assert backlog(spool).segments == 0
    assert stored(trail_env, "/last-before-stop") == 1
