"""Run Trail for a benchmark, as a user would: `manage.py serve` in embedded mode, or the
services mode with PostgreSQL, Redis, a Celery worker + beat and a ClickHouse HTTP server
(the embedded engine behind ClickHouse's HTTP protocol, in a process of its own: no
ClickHouse server can be installed here). Loopback only.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = str(REPO / ".venv" / "bin" / "python")
CELERY = str(REPO / ".venv" / "bin" / "celery")
EMAIL = "bench@trail-bench.com"
PASSWORD = "bench-password-123"  # noqa: S105 (the superuser of a throwaway benchmark)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, body: object = None, key: str = "") -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (loopback)
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@dataclass
class Trail:
    mode: str = "embedded"  # or "services"
    workers: int = 1
    threads: int = 16
    port: int = field(default_factory=free_port)
    var: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="trail-bench-")))
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    key: str = ""
    clickhouse_url: str = ""
    database: str = "trail_bench"  # PostgreSQL database (services mode), dropped and made anew
    redis_url: str = "redis://127.0.0.1:6379/3"  # flushed by prepare()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        # Only what this Trail is given: not the services of the process that starts it (a
        # services-mode test run's DATABASE_URL, REDIS_URL or TRAIL_FLUSH_MODE=celery).
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE_", "REDIS_")) and k != "TRAIL_FLUSH_MODE"
        }
        env.update(
            TRAIL_VAR_DIR=str(self.var),
            DJANGO_SETTINGS_MODULE="trail.settings",
            LOG_LEVEL="WARNING",
            PORT=str(self.port),
            WEB_WORKERS=str(self.workers),
            WEB_THREADS=str(self.threads),
            DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        )
        if self.mode == "services":
            env.update(
                DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{self.database}",
                REDIS_URL=self.redis_url,
                CLICKHOUSE_URL=self.clickhouse_url,
                TRAIL_FLUSH_MODE="celery",
            )
        env.update(self.extra_env)
        return env

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=REPO,
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    # set-up

    def prepare(self) -> None:
        if self.mode == "services":
            subprocess.run(
                [
                    "dropdb",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "--if-exists",
                    "--force",
                    self.database,
                ],
                check=True,
            )
            subprocess.run(
                ["createdb", "-h", "127.0.0.1", "-U", "postgres", self.database], check=True
            )
            subprocess.run(
                ["redis-cli", "-u", self.redis_url, "flushdb"], check=True, capture_output=True
            )
            self.start_clickhouse()
        self.manage("migrate", "--noinput")
        self.manage("createsuperuser", "--noinput", "--email", EMAIL)
        self.key = (
            self.manage(
                "create_api_key",
                "--email",
                EMAIL,
                "--scopes",
                "sites:manage,events:write,stats:read",
            )
            .strip()
            .splitlines()[-1]
        )
        # A key's default 600 requests a minute would cap a benchmark at 10,000 events/s.
        self.manage(
            "shell",
            "-c",
            "from accounts.models import ApiKey; ApiKey.objects.update(rate_limit_per_minute=10**6)",
        )

    def start_clickhouse(self, same_port: bool = False) -> None:
        port = int(self.clickhouse_url.rsplit(":", 1)[1]) if same_port else free_port()
        self.clickhouse_url = f"http://default:@127.0.0.1:{port}"
        self._spawn(
            "clickhouse",
            [
                PYTHON,
                str(REPO / "bench" / "clickhouse_server.py"),
                str(self.var / "clickhouse"),
                str(port),
            ],
        )
        self._wait(f"http://127.0.0.1:{port}/ping")

    def argv(self, name: str) -> list[str]:
        """How each of Trail's processes is started."""
        celery = [CELERY, "-A", "trail"]
        return {
            "web": [PYTHON, "manage.py", "serve"],
            "worker": [
                *celery,
                *["worker", "-P", "threads", "-c", "2", "--loglevel", "WARNING"],
            ],
            "beat": [*celery, "beat", "--loglevel", "WARNING", "-s", str(self.var / "beat")],
        }[name]

    def start(self) -> None:
        names = ["web", "worker", "beat"] if self.mode == "services" else ["web"]
        for name in names:
            self._spawn(name, self.argv(name))
        self._wait(f"{self.base}/healthz")

    def add_site(self, domain: str) -> None:
        status, body = http("POST", f"{self.base}/api/v1/sites", {"domain": domain}, self.key)
        if status not in (200, 201):
            raise SystemExit(f"creating the site failed: {status} {body[:200]!r}")

    # processes

    def _spawn(self, name: str, argv: list[str]) -> None:
        if not self.procs:
            atexit.register(self.stop)  # never leave a benchmark's processes behind
        log = open(self.var / f"{name}.log", "ab")  # noqa: SIM115 (lives with the process)
        self.procs[name] = subprocess.Popen(
            argv,
            cwd=REPO,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _wait(self, url: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    tail = (self.var / f"{name}.log").read_text()[-2000:]
                    raise SystemExit(f"{name} exited with {proc.returncode}:\n{tail}")
            time.sleep(0.1)
        raise SystemExit(f"{url} did not answer within {timeout} s")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, sig)
            proc.wait(30)

    def restart(self, name: str) -> None:
        self._spawn(name, self.argv(name))
        if name == "web":
            self._wait(f"{self.base}/healthz")

    def stop(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)

    def cpu(self) -> dict[str, dict[int, float]]:
        """CPU seconds so far of each of Trail's processes (and of their children)."""
        return {name: cpu_seconds(proc.pid) for name, proc in self.procs.items()}

    # reading ClickHouse from outside the serving process

    def query(self, sql: str) -> list[dict[str, object]]:
        """Run SQL on Trail's ClickHouse (embedded mode: only while Trail is stopped)."""
        code = (
            "import json,sys;from events.clickhouse import get_client;"
            "print(json.dumps(get_client().query(sys.argv[1]), default=str))"
        )
        env = self.env()
        if self.mode == "services" and "clickhouse" not in self.procs:
            self.start_clickhouse(same_port=True)
        done = subprocess.run(
            [PYTHON, "-c", f"import django;django.setup();{code}", sql],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise SystemExit(f"query failed: {done.stderr[-2000:]}")
        return list(json.loads(done.stdout.strip().splitlines()[-1]))


def rss_mib(pid: int) -> float:
    total = 0
    for child in [pid, *_children(pid)]:
        try:
            with open(f"/proc/{child}/statm") as statm:
                total += int(statm.read().split()[1])
        except FileNotFoundError:
            continue
    return total * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_seconds(pid: int) -> dict[int, float]:
    """CPU time (user + system, all threads) of `pid` and each of its descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for child in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        found[child] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return found


def cpu_shares(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]], elapsed: float
) -> str:
    """Each process's CPU over the run (a web server's workers one by one)."""
    shares = []
    for name, pids in after.items():
        used = [(t - before[name].get(pid, 0.0)) / elapsed * 100 for pid, t in pids.items()]
        busy = [f"{u:.0f}" for u in used if u >= 0.5]
        shares.append(f"{name} {sum(used):.0f} % ({' + '.join(busy) or '0'})")
    return "; ".join(shares)


def _children(pid: int) -> list[int]:
    found = []
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    for kid in kids:
        found.append(int(kid))
        found.extend(_children(int(kid)))
    return found


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "embedded"
    trail = Trail(mode=mode)
    trail.prepare()
    trail.start()
    trail.add_site("bench-smoke.com")
    print(trail.base, trail.key)
    trail.stop()
