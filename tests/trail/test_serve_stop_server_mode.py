"""`manage.py serve` with a ClickHouse server (`CLICKHOUSE_URL`, as docker-compose runs it)
stops on one SIGTERM to its main process alone, as `docker stop` sends it. The checks before
the server starts open the server client, which starts threads: when the stop signals were
routed after them, one of those threads took the SIGTERM and the main process never
stopped (found by hand; it took a SIGKILL)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from django.conf import settings

from tests.clickhouse_http import serve
from tests.helpers import child_env, free_port, manage, start_server, stop_server

STOP_BOUND = 10.0


def test_a_sigterm_to_the_main_process_stops_it(tmp_path: Path) -> None:
    with serve(settings.CLICKHOUSE.data_dir) as url:
        env = child_env(tmp_path / "var", CLICKHOUSE_URL=url)
        done = manage("migrate", "--noinput", env=env)
        assert done.returncode == 0, done.stderr
        server = start_server(env, free_port(), log=tmp_path / "serve.log")
        try:
            started = time.monotonic()
            server.send_signal(signal.SIGTERM)  # the main process only, not its group
            server.wait(STOP_BOUND)
            took = time.monotonic() - started
        except subprocess.TimeoutExpired:
            stop_server(server, signal.SIGKILL)
            raise AssertionError(
                f"still running {STOP_BOUND} s after SIGTERM:\n"
                + (tmp_path / "serve.log").read_text()[-2000:]
            ) from None
    assert server.returncode == 0, (tmp_path / "serve.log").read_text()[-2000:]
    assert took < STOP_BOUND
    assert "Granian shutdown completed" in (tmp_path / "serve.log").read_text()
