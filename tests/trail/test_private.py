"""Trail's data files are private to its user: created so, and tightened at start."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import REPO, child_env, manage
from trail.config import load
from trail.private import data_paths, protect, tighten

# The spool as ingest uses it, in a child process with Trail's settings.
SPOOL_ONE_RECORD = "from events.spool import spool; s = spool(); s.append([{'n': 1}]); s.close()"


def _modes(root: Path) -> dict[str, int]:
    """Permission bits of everything under `root` (itself included), symlinks left out."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        if not path.is_symlink():
            found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def _loosen(root: Path) -> None:
    """What an install before the fix, or a umask of 022, left: 0755 directories, 0644 files."""
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    """Children started meanwhile inherit `mask` (the test process's own is Trail's 077)."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def _private(modes: dict[str, int]) -> bool:
    return all(mode & 0o077 == 0 for mode in modes.values())


def test_a_fresh_install_is_private_and_start_up_tightens_a_loose_one(
    isolated_var: Path,
) -> None:
    var = isolated_var / "trail"  # Trail creates it
    env = child_env(var)
    with _umask(0o022):  # a usual login shell: without Trail's umask, 0644 files
        fresh = manage("migrate", "--noinput", env=env)
        assert fresh.returncode == 0, fresh.stderr
        spooled = manage("shell", "-c", SPOOL_ONE_RECORD, env=env)
        assert spooled.returncode == 0, spooled.stderr
    modes = _modes(var)
    for name in ("secret_key", "trail.sqlite3"):
        assert modes[name] == 0o600, name
    assert modes["."] == modes["clickhouse"] == modes["spool"] == 0o700
    assert any(name.startswith("spool/") and mode == 0o600 for name, mode in modes.items())
    chdb = {name: mode for name, mode in modes.items() if name.startswith("clickhouse/")}
    assert len(chdb) > 20, "chDB wrote its data files"
    assert set(chdb.values()) == {0o600, 0o700}
    assert _private(modes), {name: oct(mode) for name, mode in modes.items() if mode & 0o077}

    _loosen(var)
    assert set(_modes(var).values()) == {0o755, 0o644}
    with _umask(0o022):
        started = manage("check", env=env)  # any start-up: the settings tighten
    assert started.returncode == 0, started.stderr
    again = _modes(var)
    # each process has its own metrics files, and a start removes those of gone processes
    assert _lasting(again) == _lasting(modes)
    assert {name: 0o700 if (var / name).is_dir() else 0o600 for name in again} == again


def _lasting(modes: dict[str, int]) -> set[str]:
    """The names that outlive the process that made them (not `metrics/<kind>_<pid>.db`)."""
    return {name for name in modes if not name.startswith("metrics/")}


def test_tighten_takes_only_group_and_other_bits(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "part").mkdir(parents=True)
    (root / "part" / "data.bin").write_bytes(b"x")
    (root / "readonly").write_bytes(b"x")
    outside = tmp_path / "shared.txt"
    outside.write_text("not Trail's")
    (root / "link").symlink_to(outside)
    _loosen(root)
    outside.chmod(0o644)
    (root / "readonly").chmod(0o444)

    assert tighten(root) == []
    assert _modes(root) == {".": 0o700, "part": 0o700, "part/data.bin": 0o600, "readonly": 0o400}
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644, "a symlink is not followed"
    assert tighten(tmp_path / "missing") == []


def test_data_outside_the_var_dir_is_tightened_too(tmp_path: Path) -> None:
    var, chdb, db = tmp_path / "var", tmp_path / "chdb", tmp_path / "db" / "trail.db"
    (chdb / "store").mkdir(parents=True)
    (chdb / "store" / "part.bin").write_bytes(b"x")
    db.parent.mkdir()
    for path in (db, db.with_name("trail.db-wal"), db.parent / "unrelated.txt"):
        path.write_bytes(b"x")
    config = load(
        {
            "TRAIL_VAR_DIR": str(var),
            "CLICKHOUSE_DATA_DIR": str(chdb),
            "DATABASE_URL": f"sqlite:///{db}",
        }
    )
    assert data_paths(config) == sorted(
        [var, chdb, db, db.with_name("trail.db-shm"), db.with_name("trail.db-wal")]
    )
    _loosen(tmp_path)

    protect(config)

    assert _private(_modes(var)) and _private(_modes(chdb))
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.with_name("trail.db-wal").stat().st_mode) == 0o600
    # The SQLite file's directory may be shared: only the database's own files are Trail's.
    assert stat.S_IMODE((db.parent / "unrelated.txt").stat().st_mode) == 0o644
    assert os.umask(0o077) == 0o077, "protect() left Trail's umask in place"


def test_the_default_layout_is_one_walk(tmp_path: Path) -> None:
    config = load({"TRAIL_VAR_DIR": str(tmp_path / "var")})
    # chDB's directory and the SQLite file live in the var dir: it alone is walked.
    assert data_paths(config) == [tmp_path / "var"]
    assert stat.S_IMODE((tmp_path / "var").stat().st_mode) == 0o700, "created private"


def _final_stage(dockerfile: str) -> str:
    return re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[-1]


def test_the_image_runs_as_a_non_root_user_owning_a_private_var_dir() -> None:
    final = _final_stage((REPO / "Dockerfile").read_text())
    users = re.findall(r"^USER\s+(\S+)\s*$", final, flags=re.MULTILINE)
    assert users, "the final stage names a USER"
    user = users[-1]
    assert user not in ("root", "0") and not user.startswith("0:")
    assert re.search(rf"useradd\b[^\n]*\b{user}\s*\\?$", final, flags=re.MULTILINE)
    var_dir = re.search(r"^\s*TRAIL_VAR_DIR=(\S+)", final, flags=re.MULTILINE)
    assert var_dir is not None
    assert f"install -d -o {user} -g {user} -m 0700 {var_dir[1]}" in final


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="needs docker-compose")
def test_compose_mounts_the_var_volume_where_the_image_keeps_it_private() -> None:
    rendered = subprocess.run(
        ["docker-compose", "--env-file", ".env.example", "config"],  # noqa: S607
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "TRAIL_VAR_DIR: /var/lib/trail" in rendered
    assert "target: /var/lib/trail" in rendered or "trail-var:/var/lib/trail" in rendered
    assert "EMAIL_URL:" in rendered  # the operator can set where mail goes (SECURITY.md)
