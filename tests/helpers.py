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
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

# Variables that would point a child at the services the test process uses.
_SERVICE_VARS = (
    "DATABASE_URL",
    "CLICKHOUSE_URL",
    "REDIS_URL",
    "TRAIL_FLUSH_MODE",
    "DJANGO_SETTINGS_MODULE",
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
            time.sleep(0.2)


@contextmanager
def serving(env: Mapping[str, str], port: int) -> Iterator[str]:
    """`manage.py serve` on `port` until the block ends (SIGINT, then kill); its base URL."""
    server = subprocess.Popen(  # noqa: S603 (this interpreter, fixed arguments)
        [PYTHON, "manage.py", "serve", "--port", str(port)],
        cwd=REPO,
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_for_http(f"{url}/healthz") == 200
        yield url
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
