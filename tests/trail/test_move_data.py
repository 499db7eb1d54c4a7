"""`manage.py move_data`: a seeded install moved into another configuration.

The source is the test process's own (SQLite or, in the services suite, PostgreSQL, and the
embedded chDB). The target ClickHouse is a second engine in a process of its own (chDB
opens one data directory per process) behind ClickHouse's HTTP protocol
(bench/clickhouse_server.py); the target database is a second SQLite file, or in the
services suite a fresh database on the real PostgreSQL. The target's Stats API answers
come from a Trail process started on the target's configuration.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts.models import ApiKey, Invitation, Membership, Organization, Role, User
from events.clickhouse import ClickHouse
from events.clickhouse.server import ServerClickHouse
from events.ingest.sites import directory
from reports.query import EVENT_DIMENSIONS, METRICS, TIME_DIMENSIONS, VISIT_DIMENSIONS
from sites.models import Funnel, Goal, Site
from tests import factories
from tests.conftest import REPO
from tests.reports.conftest import CHROME_ANDROID, SAFARI_MAC, hit
from trail import move

pytestmark = pytest.mark.django_db


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def target_clickhouse(tmp_path: Path) -> Iterator[str]:
    """A second ClickHouse, empty, in a process of its own; its URL."""
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            str(REPO / "bench" / "clickhouse_server.py"),
            str(tmp_path / "ch"),
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://default:@127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1).read()  # noqa: S310
                break
            except OSError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def target_database(tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a new PostgreSQL database in the services suite."""
    if connection.vendor != "postgresql":
        yield f"sqlite:///{tmp_path / 'target.sqlite3'}"
        return
    import psycopg

    source = settings.DATABASES["default"]
    name = f"trail_move_{os.getpid()}_{time.monotonic_ns() % 10**9}"
    dsn: dict[str, Any] = {
        "host": source["HOST"],
        "port": source["PORT"] or 5432,
        "user": source["USER"],
        "password": source["PASSWORD"],
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**dsn) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            f"postgresql://{source['USER']}:{source['PASSWORD']}@{source['HOST']}:"
            f"{source['PORT'] or 5432}/{name}"
        )
    finally:
        move.close_database()
        with psycopg.connect(**dsn) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def installed(
    seed: Callable[[Site, list[dict[str, Any]]], None],
    fresh_site_ids: int,
) -> dict[str, Any]:
    """Two organizations with members, an invitation, keys, sites, goals, funnels, a shared
    link and a few days of traffic; the sites and a stats key per organization."""
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    sites, keys = [], {}
    for n in range(2):
        org = factories.organization(name=f"Org {n}")
        member = factories.member(org, Role.VIEWER)
        Invitation.objects.create(
            organization=org,
            email=f"new{n}@example.com",
            role=Role.VIEWER,
            token_hash=f"{n:064d}",
            invited_by=member,
            expires_at=now + dt.timedelta(days=7),
        )
        _, key = factories.api_key(org, scopes=("stats:read",))
        for m in range(2 if n == 0 else 1):
            site = factories.site(org, f"move{n}{m}.example.com")
            directory.invalidate()
            Goal.objects.create(
                site=site, kind=Goal.Kind.EVENT, value="Signup", display_name="Signup"
            )
            Goal.objects.create(
                site=site, kind=Goal.Kind.PAGEVIEW, value="/pricing*", display_name="Pricing"
            )
            Funnel.objects.create(
                site=site,
                name="To signup",
                steps=[{"type": "page", "value": "/"}, {"type": "event", "value": "Signup"}],
                window=3600,
            )
            site.shared_links.create(name="press", slug=f"press-move-{n}-{m}")
            events = []
            for day in range(4):
                for visitor in range(6 + day + m):
                    at = now - dt.timedelta(days=day, minutes=visitor * 7)
                    ip = f"198.51.{n * 10 + m}.{visitor + 1}"
                    agent = (SAFARI_MAC, CHROME_ANDROID)[visitor % 2]
                    events.append(
                        hit(
                            site,
                            at,
                            "/",
                            ip=ip,
                            user_agent=agent,
                            referrer="https://www.google.com/" if visitor % 3 else "",
                        )
                    )
                    events.append(
                        hit(
                            site, at + dt.timedelta(seconds=40), "/pricing", ip=ip, user_agent=agent
                        )
                    )
                    if visitor % 2:
                        events.append(
                            hit(
                                site,
                                at + dt.timedelta(seconds=90),
                                "/pricing",
                                ip=ip,
                                user_agent=agent,
                                name="Signup",
                                props={"plan": "pro"},
                            )
                        )
            seed(site, events)
            sites.append(site)
            keys[site.domain] = key
    return {"sites": sites, "keys": keys}


def _queries(domain: str) -> list[dict[str, Any]]:
    """Every Stats API report of a site: each metric alone, each dimension broken down."""
    base: dict[str, Any] = {"site_id": domain, "date_range": "7d"}
    # scroll_depth over a range without engagement events raises in the reports today
    # (avg of nothing cast to UInt8): left out until that is fixed.
    bodies = [{**base, "metrics": [metric]} for metric in METRICS if metric != "scroll_depth"]
    for dimension in (*EVENT_DIMENSIONS, *VISIT_DIMENSIONS, *TIME_DIMENSIONS, "event:props:plan"):
        metrics = ["visitors", "visits", "pageviews", "events", "bounce_rate", "visit_duration"]
        if dimension.startswith("event:"):
            metrics = ["visitors", "events", "pageviews"]
        if dimension == "event:goal":
            metrics = ["visitors", "events", "conversion_rate"]
        bodies.append({**base, "metrics": metrics, "dimensions": [dimension]})
    bodies.append(
        {
            **base,
            "metrics": ["visitors", "pageviews"],
            "filters": [["is", "visit:browser", ["Safari"]]],
        }
    )
    return bodies


def _answers(client: Any, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    found = []
    for key, body in calls:
        answer = client.post(
            "/api/v2/query",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
        found.append([answer.status_code, answer.json()])
    return found


# Run in a Trail process on the target's configuration: the answers to the calls on stdin.
_TARGET_ANSWERS = """
import json, sys
import django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
from tests.trail.test_move_data import _answers
print(json.dumps(_answers(Client(), json.load(sys.stdin))))
"""


def _target_answers(
    calls: list[tuple[str, dict[str, Any]]], database: str, clickhouse: str, var: Path
) -> list[Any]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "TRAIL_FLUSH_MODE", "DATABASE_URL", "CLICKHOUSE_URL")
    }
    var.mkdir(exist_ok=True)
    env |= {
        "DJANGO_SETTINGS_MODULE": "trail.settings",
        "TRAIL_VAR_DIR": str(var),
        "DATABASE_URL": database,
        "CLICKHOUSE_URL": clickhouse,
        "SECRET_KEY": settings.SECRET_KEY,
        "TRAIL_FLUSH_MODE": "thread",
    }
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


def _counts(client: ClickHouse, site_ids: list[int]) -> dict[str, dict[int, int]]:
    """Rows per site of events and visits (sum of sign) per site, from the raw tables."""
    found: dict[str, dict[int, int]] = {}
    for table, measure in (("events", "count()"), ("sessions", "sum(sign)")):
        rows = client.query(
            f"SELECT site_id, {measure} AS n FROM {table}"  # noqa: S608
            " WHERE has({sites:Array(UInt64)}, site_id) GROUP BY site_id",
            {"sites": site_ids},
        )
        found[table] = {int(r["site_id"]): int(r["n"]) for r in rows}
    return found


def _run(database: str, clickhouse: str, sites: list[Site], **options: Any) -> str:
    """`move_data` limited to the test's sites (the shared engine holds other tests')."""
    from io import StringIO

    out = StringIO()
    original = move.move

    def limited(*args: Any, **kwargs: Any) -> move.Result:
        return original(*args, **kwargs, sites=frozenset(site.id for site in sites))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(move, "move", limited)
        call_command(
            "move_data", to_database=database, to_clickhouse=clickhouse, stdout=out, **options
        )
    return out.getvalue()


def _rows(model: Any, alias: str) -> list[dict[str, Any]]:
    return list(model._base_manager.using(alias).order_by("pk").values())


def _check_moved(
    installed: dict[str, Any],
    clickhouse: ClickHouse,
    target_database: str,
    target_clickhouse: str,
    tmp_path: Path,
    *,
    reports: bool = True,
) -> None:
    sites: list[Site] = installed["sites"]
    ids = [site.id for site in sites]
    target = ServerClickHouse(target_clickhouse)
    try:
        ours, theirs = _counts(clickhouse, ids), _counts(target, ids)
    finally:
        target.close()
    assert ours == theirs
    assert set(ours["events"]) == set(ids) and all(ours["events"].values())
    # The accounts database: every row of every model, primary keys and hashes kept.
    move.open_database(target_database)
    try:
        for model in move.moved_models():
            assert _rows(model, move.TARGET_ALIAS) == _rows(model, "default"), model
        for model in (Organization, User, Membership, Invitation, ApiKey, Site, Goal, Funnel):
            assert _rows(model, "default"), model  # the seed made some of each
        for user in User.objects.all():  # password hashes kept: the same passwords work
            moved = User._base_manager.using(move.TARGET_ALIAS).get(pk=user.pk)
            assert (moved.email, moved.password) == (user.email, user.password)
            assert moved.password.startswith("md5$")
    finally:
        move.close_database()
    if not reports:
        return
    # Every report of every site, by its organization's key, on both configurations.
    calls = [
        (installed["keys"][site.domain], body) for site in sites for body in _queries(site.domain)
    ]
    from django.test import Client

    source = _answers(Client(), calls)
    assert sum(status == 200 for status, _ in source) > len(calls) * 0.8, source
    assert (
        _target_answers(calls, target_database, target_clickhouse, tmp_path / "var-target")
        == source
    )


def test_an_install_moves_with_every_report_equal(
    installed: dict[str, Any],
    clickhouse: ClickHouse,
    target_database: str,
    target_clickhouse: str,
    tmp_path: Path,
) -> None:
    # a table that is not Trail's (an operator's own, or another test's) stays behind
    clickhouse.command(
        "CREATE TABLE IF NOT EXISTS operators_own_table (x UInt8) ENGINE = MergeTree ORDER BY x"
    )
    out = _run(target_database, target_clickhouse, installed["sites"])
    assert "Every count matches." in out
    assert "operators_own_table is not one of Trail's tables" in out
    for site in installed["sites"]:
        assert str(site.id) in out  # the per-site counts are printed
    _check_moved(installed, clickhouse, target_database, target_clickhouse, tmp_path)


def test_a_run_interrupted_then_resumed_adds_no_duplicates(
    installed: dict[str, Any],
    clickhouse: ClickHouse,
    target_database: str,
    target_clickhouse: str,
    tmp_path: Path,
) -> None:
    # Interrupted at the worst moment: a chunk is in the target but not yet recorded.
    original, calls = move.record, []

    def interrupted(target: ClickHouse, step: str, rows: int) -> None:
        calls.append(step)
        if step != move.DJANGO_STEP and len(calls) == 3:
            raise KeyboardInterrupt
        original(target, step, rows)

    with pytest.MonkeyPatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(move, "record", interrupted)
        _run(target_database, target_clickhouse, installed["sites"], chunk_rows=40)
    move.close_database()
    out = _run(target_database, target_clickhouse, installed["sites"], chunk_rows=40)
    assert "copied by an earlier run" in out
    assert "Every count matches." in out
    again = _run(target_database, target_clickhouse, installed["sites"], chunk_rows=40)
    assert "0 rows copied" in again
    _check_moved(installed, clickhouse, target_database, target_clickhouse, tmp_path, reports=False)


def test_a_chunk_left_half_written_is_copied_again_whole(
    installed: dict[str, Any],
    clickhouse: ClickHouse,
    target_database: str,
    target_clickhouse: str,
    tmp_path: Path,
) -> None:
    # Interrupted inside an insert: half of an events chunk's Native blocks reached the target.
    original = move.write_chunk

    def half_then_interrupted(target: ClickHouse, chunk: move.Chunk, data: bytes) -> int:
        if chunk.table.name != "events":
            return original(target, chunk, data)
        where, params = chunk.where()
        names = ", ".join(name for name, _ in chunk.table.columns)
        sql = f"SELECT {names} FROM events WHERE {where} LIMIT {chunk.rows // 2}"  # noqa: S608
        original(target, chunk, b"".join(clickhouse.stream(sql, params, fmt="Native")))
        raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(move, "write_chunk", half_then_interrupted)
        _run(target_database, target_clickhouse, installed["sites"])
    move.close_database()
    site_ids = [site.id for site in installed["sites"]]
    target = ServerClickHouse(target_clickhouse)
    try:
        left = sum(_counts(target, site_ids)["events"].values())
        assert 0 < left < sum(_counts(clickhouse, site_ids)["events"].values())
        out = _run(target_database, target_clickhouse, installed["sites"])
        assert "Every count matches." in out
        assert _counts(target, site_ids) == _counts(clickhouse, site_ids)
    finally:
        target.close()
    _check_moved(installed, clickhouse, target_database, target_clickhouse, tmp_path, reports=False)


def test_small_sites_share_a_chunk_and_a_big_one_goes_by_whole_days(
    installed: dict[str, Any], clickhouse: ClickHouse
) -> None:
    """One request for many small sites, not one each: thousands of small sites made a
    backup of a few thousand rows take 30 s (a query per site and table) and its restore
    as many parts. A site too big for a chunk goes by whole days, one site a chunk."""
    events = next(table for table in move.tables(clickhouse) if table.name == "events")
    first, middle, last = (site.id for site in installed["sites"])
    counts = _counts(clickhouse, [first, middle, last])["events"]
    total = sum(counts.values())

    (whole,) = move.plan(clickhouse, events, total, frozenset(counts))
    assert (whole.site_id, whole.last_site, whole.rows) == (first, last, total)
    assert whole.step == f"events/{first}-{last}"
    assert move.measure(clickhouse, whole) == total
    # Limited to two sites, the site between them stays out of their chunk.
    (ends,) = move.plan(clickhouse, events, total, frozenset({first, last}))
    assert ends.rows == counts[first] + counts[last] == move.measure(clickhouse, ends)

    biggest = max(counts, key=counts.__getitem__)
    chunks = move.plan(clickhouse, events, counts[biggest] - 1, frozenset(counts))
    by_days = [chunk for chunk in chunks if chunk.site_id == biggest]
    assert len(by_days) > 1 and all(chunk.last_site is None for chunk in by_days)
    assert all(chunk.first is not None and chunk.rows < counts[biggest] for chunk in by_days)
    assert [move.measure(clickhouse, chunk) for chunk in chunks] == [c.rows for c in chunks]
    assert sum(chunk.rows for chunk in chunks) == total
    assert len({chunk.step for chunk in chunks}) == len(chunks)


@pytest.mark.parametrize(
    ("to_db", "to_ch", "error"),
    [
        ("mysql://x/y", "{ch}", "--to-database: expected a postgresql://"),
        ("postgresql://trail@127.0.0.1:{closed}/trail", "{ch}", "--to-database: cannot connect"),
        ("sqlite:////nonexistent-dir/x.sqlite3", "{ch}", "--to-database: the directory"),
        ("{db}", "http://127.0.0.1:{closed}", "--to-clickhouse: cannot reach"),
        ("{db}", "ftp://127.0.0.1/", "--to-clickhouse: expected an http://"),
        ("{source}", "{ch}", "--to-database: the target is the database Trail runs on"),
    ],
)
def test_a_wrong_target_fails_clearly_and_changes_nothing(
    make_site: Callable[..., Site],
    target_database: str,
    target_clickhouse: str,
    to_db: str,
    to_ch: str,
    error: str,
) -> None:
    site = make_site("wrong-target.example.com")
    closed = _free_port()
    source = connection.settings_dict
    if "{source}" in to_db and str(source["NAME"]).startswith("file:"):
        pytest.skip("the embedded suite's SQLite test database is in memory: no URL names it")
    source_url = (
        f"sqlite:///{source['NAME']}"
        if connection.vendor == "sqlite"
        else f"postgresql://{source['USER']}:{source['PASSWORD']}@{source['HOST']}:"
        f"{source['PORT'] or 5432}/{source['NAME']}"
    )
    to_db = to_db.format(db=target_database, closed=closed, source=source_url)
    to_ch = to_ch.format(ch=target_clickhouse, closed=closed)
    with pytest.raises(CommandError, match=error):
        _run(to_db, to_ch, [site])
    target = ServerClickHouse(target_clickhouse)
    try:
        assert target.query(
            "SELECT count() AS n FROM system.tables WHERE database = currentDatabase()"
        ) == [{"n": 0}]
    finally:
        target.close()
    if target_database.startswith("sqlite:///"):
        assert not Path(target_database.removeprefix("sqlite:///")).exists()
