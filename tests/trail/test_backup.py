"""`manage.py backup` and `manage.py restore` (trail/backup/).

The backup is taken from the test process's own install (SQLite or, in the services suite,
PostgreSQL through pg_dump, and the embedded chDB shared by the tests). It is restored into
a fresh install in another process (a fresh var/ directory: its own chDB, and a fresh
SQLite file or PostgreSQL database), whose Stats API answers must equal the source's.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from tests import factories
from tests.conftest import REPO
from tests.trail.test_move_data import (  # noqa: F401 (fixtures)
    _TARGET_ANSWERS,
    _answers,
    _queries,
    installed,
    target_database,
)
from trail.backup import channel, manifest, periodic
from trail.backup.config import BackupConfig, load
from trail.backup.manifest import BackupError
from trail.config import ConfigError


def _env(var: Path, database: str) -> dict[str, str]:
    """A fresh install's environment: its own var/ (chDB) and database."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "TRAIL_FLUSH_MODE", "DATABASE_URL", "CLICKHOUSE_URL")
    }
    var.mkdir(exist_ok=True)
    return env | {
        "DJANGO_SETTINGS_MODULE": "trail.settings",
        "TRAIL_VAR_DIR": str(var),
        "DATABASE_URL": database,
        "SECRET_KEY": settings.SECRET_KEY,
        "TRAIL_FLUSH_MODE": "thread",
        "LOG_LEVEL": "WARNING",
    }


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
        check=False,
    )


def _fresh_answers(env: dict[str, str], calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", _TARGET_ANSWERS],
        input=json.dumps(calls),
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def taken_backup(
    tmp_path_factory: pytest.TempPathFactory, django_db_setup: None, django_db_blocker: Any
) -> Path:
    """One backup of the test process's install (whatever the suite has left in the shared
    engine: seconds to take), taken once for the tests that check or spoil a copy of it."""
    path = tmp_path_factory.mktemp("taken") / "backup"
    with django_db_blocker.unblock():
        call_command("backup", output=str(path), stdout=open(os.devnull, "w"))  # noqa: SIM115
    return path


@pytest.fixture
def backup(taken_backup: Path, tmp_path: Path, transactional_db: None) -> Path:
    """A copy of that backup, this test's to change."""
    return Path(shutil.copytree(taken_backup, tmp_path / "backup"))


@pytest.mark.django_db(transaction=True)
def test_a_restored_install_answers_every_report_as_the_original(
    installed: dict[str, Any],  # noqa: F811
    target_database: str,  # noqa: F811
    client: Any,
    tmp_path: Path,
) -> None:
    calls = [
        (installed["keys"][site.domain], body)
        for site in installed["sites"]
        for body in _queries(site.domain)
    ]
    ours = _answers(client, calls)
    assert sum(status == 200 for status, _ in ours) > len(ours) // 2  # real reports
    # An operator's own table (or another test's) is backed up but not Trail's to restore.
    from events.clickhouse import get_client

    get_client().command(
        "CREATE TABLE IF NOT EXISTS operators_backup_table (x UInt8) ENGINE = MergeTree ORDER BY x"
    )
    out = tmp_path / "backup.log"
    with out.open("w") as log:
        call_command("backup", output=str(tmp_path / "backup"), stdout=log)
    printed = out.read_text()
    assert "accounts database:" in printed and "ClickHouse:" in printed  # progress shown
    found = manifest.read(tmp_path / "backup")
    assert found.versions["clickhouse_migrations"] and found.versions["django_migrations"]
    assert {t["name"] for t in found.tables} >= {"events", "sessions"}

    env = _env(tmp_path / "fresh", target_database)
    done = _manage(env, "restore", str(tmp_path / "backup"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "checking" in done.stdout and "Restore done" in done.stdout
    assert "operators_backup_table is not one of Trail's tables: not restored" in done.stdout
    assert _fresh_answers(env, calls) == ours

    # The restored install is not empty any more: refused, then replaced with --force.
    again = _manage(env, "restore", str(tmp_path / "backup"))
    assert again.returncode != 0
    assert "not empty" in again.stderr and "--force" in again.stderr
    forced = _manage(env, "restore", "--force", str(tmp_path / "backup"))
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert _fresh_answers(env, calls) == ours  # replaced, not doubled


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_corrupt_backup_is_refused_before_anything_is_written(
    backup: Path, tmp_path: Path
) -> None:
    chunk = backup / manifest.read(backup).database["file"]
    _flip_a_byte(chunk)
    fresh = tmp_path / "fresh"
    done = _manage(_env(fresh, f"sqlite:///{tmp_path / 'fresh.sqlite3'}"), "restore", str(backup))
    assert done.returncode != 0
    assert f"corrupt backup: database/{chunk.name} does not match" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "fresh.sqlite3").exists()
    assert not (fresh / "clickhouse").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m["files"].update({"../outside": {"bytes": 1, "sha256": "0"}}), "outside"),
        (lambda m: m["files"].update({"/etc/passwd": {"bytes": 1, "sha256": "0"}}), "outside"),
        (lambda m: m.update(format_version=99), "format version 99"),
        (lambda m: m.pop("tables"), "malformed manifest"),
        (lambda m: m["spool"].append("spool/unlisted.seg"), "lists no checksum"),
    ],
)
def test_a_tampered_manifest_is_refused(backup: Path, change: Any, message: str) -> None:
    path = backup / manifest.MANIFEST
    body = json.loads(path.read_text())
    change(body)
    path.write_text(json.dumps(body))
    with pytest.raises(BackupError, match=message):
        manifest.verify(backup, manifest.read(backup))


def test_a_missing_or_truncated_file_is_refused(backup: Path) -> None:
    found = manifest.read(backup)
    database = backup / found.database["file"]
    database.write_bytes(database.read_bytes()[:-1])
    with pytest.raises(BackupError, match="has .* bytes"):
        manifest.verify(backup, found)
    database.unlink()
    with pytest.raises(BackupError, match="is missing"):
        manifest.verify(backup, found)


def test_a_non_empty_install_is_refused_without_force(backup: Path) -> None:
    """The test process's install holds data: restoring over it is refused (--force is
    exercised on a fresh install above, never on the tests' shared engine)."""
    factories.organization(name="Holds data")
    with pytest.raises(CommandError, match="not empty"):
        call_command("restore", str(backup), stdout=open(os.devnull, "w"))  # noqa: SIM115


def test_backup_refuses_a_non_empty_output(tmp_path: Path, transactional_db: None) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(CommandError, match="not an empty directory"):
        call_command("backup", output=str(tmp_path / "out"))
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


# --- the channel to a running embedded Trail ---------------------------------------------


@pytest.mark.skipif("settings.CLICKHOUSE.url is not None")
def test_a_running_embedded_trail_takes_the_backup_it_is_asked_for(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "bench"))
    from trail_proc import EMAIL, Trail, http  # type: ignore[import-not-found]

    trail = Trail(var=tmp_path / "var", threads=4)
    trail.var.mkdir()
    trail.prepare()
    trail.start()
    try:
        trail.add_site("running.example.com")
        events = [
            {
                "domain": "running.example.com",
                "name": "pageview",
                "url": f"https://running.example.com/{n}",
                "ip": f"203.0.113.{n + 1}",
                "user_agent": "Mozilla/5.0",
            }
            for n in range(25)
        ]
        status, body = http("POST", f"{trail.base}/api/v1/events", {"events": events}, trail.key)
        assert status == 202, body
        done = _manage(trail.env(), "backup", "--output", str(tmp_path / "backup"))
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Trail is running" in done.stdout and "Backup done" in done.stdout
        assert not list((trail.var / "control").iterdir())  # nothing left behind
    finally:
        trail.stop()
    found = manifest.read(tmp_path / "backup")
    manifest.verify(tmp_path / "backup", found)
    events_rows = next(t["rows"] for t in found.tables if t["name"] == "events")
    spooled = sum(
        len((tmp_path / "backup" / name).read_bytes().splitlines()) for name in found.spool
    )
    # Accepted before the request: in the backup, flushed (events_rows) or in a copied spool
    # segment when the serving Trail had not flushed them yet (a race: both happen).
    assert events_rows + spooled == 25
    # Restored into a fresh install, the account, the site and the 25 events are back.
    env = _env(tmp_path / "fresh", f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    assert _manage(env, "restore", str(tmp_path / "backup")).returncode == 0
    count_events = "SELECT count() AS n FROM events"
    shell = _manage(
        env,
        "shell",
        "-c",
        "from sites.models import Site; from accounts.models import User;"
        " from events.clickhouse import get_client;"
        f" print(Site.objects.filter(domain='running.example.com').count(),"
        f" User.objects.filter(email='{EMAIL}').count(),"
        f" get_client().query({count_events!r})[0]['n'])",
    )
    assert shell.stdout.split()[-3:] == ["1", "1", "25"], shell.stderr


def _serve_in_background(stop: threading.Event) -> threading.Thread:
    def loop() -> None:
        while not stop.is_set():
            channel.serve_requests()
            time.sleep(0.05)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    "body", [b'{"output": "relative/dir"}', b"not json", b'["/tmp/x"]', b'{"output": 3}']
)
def test_a_malformed_request_fails_with_a_message_and_writes_nothing(
    body: bytes, tmp_path: Path, db: None
) -> None:
    directory = channel.control_dir()
    directory.mkdir(exist_ok=True)
    request = directory / "backup-hostile.request"
    request.write_bytes(body)
    channel.serve_requests()
    status_path = directory / "backup-hostile.status"
    for _ in range(100):
        if status_path.exists() and json.loads(status_path.read_text())["state"] != "running":
            break
        time.sleep(0.05)
    status = json.loads(status_path.read_text())
    status_path.unlink()
    assert status["state"] == "failed"
    assert "absolute output directory" in status["error"] or "unreadable" in status["error"]
    assert not (directory / "backup-hostile.running").exists()


def test_a_request_nobody_takes_times_out_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(channel, "CLAIM_WAIT", 0.5)
    with pytest.raises(BackupError, match="did not take the backup request"):
        channel.request_backup(tmp_path / "out", log=lambda _: None)
    assert not list(channel.control_dir().glob("*.request"))  # withdrawn


def test_the_channel_round_trip_in_process(tmp_path: Path, transactional_db: None) -> None:
    stop = threading.Event()
    thread = _serve_in_background(stop)
    lines: list[str] = []
    try:
        status = channel.request_backup(tmp_path / "out", log=lines.append)
    finally:
        stop.set()
        thread.join(5)
    assert status["state"] == "done"
    assert any(line.startswith("backup written to") for line in lines)
    manifest.verify(tmp_path / "out", manifest.read(tmp_path / "out"))


# --- periodic backups ---------------------------------------------------------------------


def _fake_backup(directory: Path, at: dt.datetime) -> Path:
    path = directory / f"{periodic.PREFIX}{at.strftime(periodic.STAMP)}"
    path.mkdir(parents=True)
    (path / manifest.MANIFEST).write_text("{}")
    return path


def test_periodic_backups_are_taken_when_due_and_old_ones_pruned(
    tmp_path: Path, transactional_db: None
) -> None:
    now = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    old = [_fake_backup(tmp_path, now - dt.timedelta(days=d)) for d in (3, 2, 1)]
    partial = tmp_path / f".{periodic.PREFIX}20260101T000000Z.partial-123"
    partial.mkdir()
    os.utime(partial, (0, 0))
    with override_settings(TRAIL_BACKUP=BackupConfig(tmp_path, every_hours=24, keep=2)):
        taken = periodic.scheduled(now)
        assert taken is not None
        manifest.verify(taken, manifest.read(taken))
        assert periodic.whole_backups(tmp_path) == [old[2], taken]
        assert not partial.exists()
        # Not due an hour later: nothing taken, nothing pruned.
        assert periodic.scheduled(now + dt.timedelta(hours=1)) is None
        assert periodic.whole_backups(tmp_path) == [old[2], taken]


def test_periodic_backups_are_off_without_a_directory(db: None) -> None:
    with override_settings(TRAIL_BACKUP=BackupConfig(None, every_hours=24, keep=7)):
        assert periodic.scheduled() is None


def test_the_periodic_job_is_registered() -> None:
    from events import jobs

    names = {job.name for job in jobs.registered()}
    assert periodic.PERIODIC_JOB in names
    assert (channel.CHANNEL_JOB in names) == settings.CLICKHOUSE.embedded


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRAIL_BACKUP_KEEP": "0"}, "TRAIL_BACKUP_KEEP"),
        ({"TRAIL_BACKUP_KEEP": "2.5"}, "TRAIL_BACKUP_KEEP"),
        ({"TRAIL_BACKUP_EVERY_HOURS": "-1"}, "TRAIL_BACKUP_EVERY_HOURS"),
        ({"TRAIL_BACKUP_EVERY_HOURS": "daily"}, "TRAIL_BACKUP_EVERY_HOURS"),
    ],
)
def test_bad_backup_settings_stop_start_up(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(env)


def test_backup_settings_defaults(tmp_path: Path) -> None:
    assert load({}) == BackupConfig(None, 24.0, 7)
    assert load({"TRAIL_BACKUP_DIR": str(tmp_path), "TRAIL_BACKUP_KEEP": "3"}).keep == 3
