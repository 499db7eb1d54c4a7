"""Helpers for tests that run Trail in another process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

# Variables that would point a child at the services the test process uses, or at its
# metrics files (a child Trail keeps its own in its var/, as an install does).
_SERVICE_VARS = (
    "DATABASE_URL",
    "CLICKHOUSE_URL",
    "REDIS_URL",
    "TRAIL_FLUSH_MODE",
    "DJANGO_SETTINGS_MODULE",
    "PROMETHEUS_MULTIPROC_DIR",
)


def child_env(var_dir: Path, **overrides: str) -> dict[str, str]:
    """An embedded-mode environment on `var_dir`, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if k not in _SERVICE_VARS}
    env["TRAIL_VAR_DIR"] = str(var_dir)
    env["DJANGO_SETTINGS_MODULE"] = "trail.settings"
    env.update(overrides)
    return env


def child(
    argv: list[str], env: Mapping[str, str], timeout: float = 120, own_session: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run `argv` in the repository with `env`; what it printed, and its exit status."""
    return subprocess.run(
        argv,
        cwd=REPO,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        start_new_session=own_session,
    )


def manage(
    *args: str, env: Mapping[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return child([PYTHON, "manage.py", *args], env, timeout)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, timeout: float = 60) -> int:
    """Poll `url` until it answers; its status code."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # a refused connect costs nothing; a start is seen sooner


def start_server(
    env: Mapping[str, str], port: int, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """`manage.py serve` on `port`, in a session of its own, once /healthz answers."""
    sink = open(log, "ab") if log else nullcontext(subprocess.DEVNULL)  # noqa: SIM115
    with sink as output:  # the child keeps its own descriptor
        server = subprocess.Popen(  # noqa: S603 (this interpreter, fixed arguments)
            [PYTHON, "manage.py", "serve", "--port", str(port)],
            cwd=REPO,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/healthz") == 200
    except BaseException:
        stop_server(server, signal.SIGKILL)
        raise
    return server


def stop_server(
    server: subprocess.Popen[bytes], sig: int = signal.SIGINT, timeout: float = 15
) -> float:
    """Send `sig` to the server's whole process group, as a terminal's Ctrl-C does; seconds
    until the server exited (after `timeout`, the group is killed)."""
    started = time.monotonic()
    with suppress(ProcessLookupError):  # the group is gone already
        os.killpg(server.pid, sig)
    try:
        server.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    return time.monotonic() - started


@contextmanager
def serving(env: Mapping[str, str], port: int) -> Iterator[str]:
    """`manage.py serve` on `port` until the block ends (Ctrl-C to its group); its base URL."""
    server = start_server(env, port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(server)


def run_in_own_loop(coroutine: Any) -> Any:
    """`asyncio.run` in a thread of its own: this thread may already run a loop (the
    browser tests')."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()
