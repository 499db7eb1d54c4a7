"""`manage.py backup` and `manage.py restore` of a generated install (issue 19's figures:
backup of 10 M events <= 60 s, restore <= 120 s).

    .venv/bin/python bench/backup.py --var DIR [--events 10000000] [--running]

DIR is the install backed up (filled by bench/report_data.py when it holds no events; use
your own copy, e.g. `cp -a` of a shared one: the backup flushes and may migrate it). Both
commands run as their own processes, as a user runs them: the backup into a new directory
beside DIR, the restore into a fresh var/ directory; then the events and visits of both
installs are counted. With `--running`, `manage.py serve` runs on DIR during the backup,
which then goes through the control channel (trail/backup/channel.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
_COUNT = """
import json, django
django.setup()
from events.clickhouse import get_client
c = get_client()
print(json.dumps({
    "events": c.query("SELECT count() AS n FROM events")[0]["n"],
    "visits": c.query("SELECT sum(sign) AS n FROM sessions")[0]["n"],
}))
"""


def env_for(var: Path) -> dict[str, str]:
    env = {**os.environ, "TRAIL_VAR_DIR": str(var), "LOG_LEVEL": "WARNING"}
    for name in ("DATABASE_URL", "CLICKHOUSE_URL", "REDIS_URL", "TRAIL_FLUSH_MODE"):
        env.pop(name, None)
    env["DJANGO_SETTINGS_MODULE"] = "trail.settings"
    return env


def run(var: Path, *args: str) -> float:
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603
        [PYTHON, "manage.py", *args], cwd=REPO, env=env_for(var), text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed ({done.returncode})")
    return time.monotonic() - started


def counts(var: Path) -> dict[str, int]:
    done = subprocess.run(  # noqa: S603
        [PYTHON, "-c", _COUNT], cwd=REPO, env=env_for(var), capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--var", required=True, help="the install to back up (your own copy)")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--running", action="store_true", help="back up a running Trail")
    args = parser.parse_args()
    var = Path(args.var).resolve()
    if not (var / "clickhouse").is_dir():
        subprocess.run(  # noqa: S603
            [PYTHON, "bench/report_data.py", "--var", str(var), "--events", str(args.events)],
            cwd=REPO,
            check=True,
        )
    before = counts(var)
    backup = var.with_name(var.name + "-backup")
    restored = var.with_name(var.name + "-restored")
    shutil.rmtree(backup, ignore_errors=True)
    shutil.rmtree(restored, ignore_errors=True)
    restored.mkdir()
    trail = None
    if args.running:
        sys.path.insert(0, str(REPO / "bench"))
        from trail_proc import Trail

        trail = Trail(var=var)
        trail.start()
    try:
        backup_s = run(var, "backup", "--output", str(backup))
    finally:
        if trail is not None:
            trail.stop()
    restore_s = run(restored, "restore", str(backup))
    after = counts(restored)
    print(
        f"install: {before['events']:,} events, {before['visits']:,} visits"
        f"{' (Trail running)' if args.running else ''}"
    )
    print(f"backup:  {backup_s:6.1f} s, {size(backup) / 1e6:,.0f} MB (issue figure <= 60 s)")
    print(f"restore: {restore_s:6.1f} s (issue figure <= 120 s)")
    print(f"restored: {after['events']:,} events, {after['visits']:,} visits", end=" ")
    print("(equal)" if after == before else f"DIFFER from {before}")


if __name__ == "__main__":
    main()
