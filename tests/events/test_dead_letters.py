"""Dead letters: events the flush could not store, and `manage.py dead_letters`.

Rows are rejected by ClickHouse itself: copies of the `events` table that refuse some rows
(a CHECK constraint; a column too narrow for a value), fed through the real HTTP edge, the
spool and `flush_spool(table=...)`. Damaged spool segments are written by hand.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from events.clickhouse import ClickHouse
from events.flush import flush_spool
from events.models import DeadLetter
from events.spool import closed_segments, spool, spool_dir
from sites.models import Site
from tests.events.conftest import rows
from tests.wsgi_client import post

pytestmark = pytest.mark.django_db

IP = "203.0.113.77"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0 DeadLetterProbe/4.2"
CONSTRAINT_TABLE = "events_reject_test"
NARROW_TABLE = "events_narrow_test"


@pytest.fixture(scope="module")
def rejecting_tables(clickhouse: ClickHouse) -> None:
    """Copies of `events` that ClickHouse refuses some rows of."""
    clickhouse.command(f"CREATE TABLE IF NOT EXISTS {CONSTRAINT_TABLE} AS events")
    clickhouse.command(
        f"ALTER TABLE {CONSTRAINT_TABLE}"
        " ADD CONSTRAINT IF NOT EXISTS no_reject CHECK pathname != '/reject-me'"
    )
    clickhouse.command(f"CREATE TABLE IF NOT EXISTS {NARROW_TABLE} AS events")
    clickhouse.command(f"ALTER TABLE {NARROW_TABLE} MODIFY COLUMN utm_campaign FixedString(8)")


@pytest.fixture
def fresh_letter_ids(db: None) -> int:
    """Start dead letter ids in a range of their own: a replay's deduplication token is
    named after the letter's id, and rolled-back tests hand the same ids out again."""
    from django.db import connection

    first = 2**40 + secrets.randbelow(2**40)
    table = DeadLetter._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)", [table, first]
            )
        else:
            cursor.execute("DELETE FROM sqlite_sequence WHERE name = %s", [table])
            cursor.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, first - 1]
            )
    return first


def send(site: Site, path: str) -> None:
    body = json.dumps({"n": "pageview", "u": f"https://{site.domain}{path}"})
    answer = post("/api/event", body, remote_addr=IP, user_agent=UA)
    assert (answer.status, answer.dropped) == (202, None)


def close_segments() -> set[Path]:
    spool().rotate()
    return set(closed_segments())


def letter_text(letter: DeadLetter) -> str:
    return json.dumps([letter.reason, letter.event, letter.row], ensure_ascii=False)


def assert_anonymous(letter: DeadLetter) -> None:
    text = letter_text(letter)
    assert IP not in text
    assert UA not in text and "DeadLetterProbe" not in text
    assert "ip" not in letter.event and "ua" not in letter.event


# ClickHouse rejects rows


@pytest.mark.parametrize(
    ("table", "bad_path", "reason"),
    [
        pytest.param(
            CONSTRAINT_TABLE,
            "/reject-me",
            "no_reject",
            id="check-constraint",
        ),
        pytest.param(
            NARROW_TABLE, "/promo?utm_campaign=far-too-long", "FixedString(8)", id="too-long"
        ),
    ],
)
def test_rows_clickhouse_rejects_become_dead_letters_and_the_rest_is_stored(
    rejecting_tables: None,
    make_site: Callable[..., Site],
    clickhouse: ClickHouse,
    table: str,
    bad_path: str,
    reason: str,
) -> None:
    site = make_site("rejected-rows-trail.com")
    close_segments()
    flush_spool(client=clickhouse)  # what earlier tests left in the spool: not this flush's
    for path in ("/a", bad_path, "/b", "/c", bad_path, "/d"):
        send(site, path)
    mine = close_segments()
    assert mine
    report = flush_spool(client=clickhouse, table=table)

    stored = rows(
        clickhouse,
        f"SELECT pathname FROM {table} WHERE site_id = {{s:UInt64}} ORDER BY pathname",  # noqa: S608
        s=site.id,
    )
    assert [r["pathname"] for r in stored] == ["/a", "/b", "/c", "/d"]
    letters = list(DeadLetter.objects.order_by("index"))
    assert len(letters) == 2 and report.dead_letters == 2
    for letter in letters:
        assert letter.segment in {p.name for p in mine}
        assert letter.reason.startswith("rejected by ClickHouse") and reason in letter.reason
        assert letter.row is not None and letter.row["pathname"] == urlsplit(bad_path).path
        assert letter.row["site_id"] == site.id and letter.row["visitor_id"] != 0
        assert_anonymous(letter)
    assert not any(path.exists() for path in mine)
    assert report.events == 4


def _rejected(
    make_site: Callable[..., Site], clickhouse: ClickHouse, count: int
) -> list[DeadLetter]:
    """`count` dead letters whose rows ClickHouse rejected (plus one stored pageview)."""
    site = make_site("replay-trail.com")
    send(site, "/ok")
    for n in range(count):
        send(site, f"/promo-{n}?utm_campaign=campaign-{n}-too-long")
    close_segments()
    flush_spool(client=clickhouse, table=NARROW_TABLE)
    letters = list(DeadLetter.objects.order_by("id"))
    assert len(letters) == count
    return letters


def test_list_prints_the_letters(
    rejecting_tables: None, make_site: Callable[..., Site], clickhouse: ClickHouse
) -> None:
    letters = _rejected(make_site, clickhouse, 2)
    out = io.StringIO()
    call_command("dead_letters", "list", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[-1] == "2 dead letter(s)"
    for letter, line in zip(letters, lines[:-1], strict=True):
        number, _, name, where, why = line.split("\t")
        assert (int(number), name, where) == (
            letter.id,
            "pageview",
            f"{letter.segment}:{letter.index}",
        )
        assert "FixedString(8)" in why
    out = io.StringIO()
    call_command("dead_letters", "list", "--id", str(letters[1].id), stdout=out)
    assert out.getvalue().splitlines()[-1] == "1 dead letter(s)"
    assert out.getvalue().startswith(f"{letters[1].id}\t")


def test_replay_stores_the_rows_in_events_once_and_deletes_the_letters(
    rejecting_tables: None,
    make_site: Callable[..., Site],
    clickhouse: ClickHouse,
    fresh_letter_ids: int,
) -> None:
    letters = _rejected(make_site, clickhouse, 2)
    assert letters[0].id >= fresh_letter_ids
    expected = sorted((letter.row["event_id"], letter.row["visitor_id"]) for letter in letters)
    ids = [e for e, _ in expected]
    query = (
        "SELECT toString(event_id) AS id, visitor_id, pathname, utm_campaign, session_id"
        " FROM events WHERE event_id IN {ids:Array(UUID)} ORDER BY id"
    )
    assert rows(clickhouse, query, ids=ids) == []

    out = io.StringIO()
    call_command("dead_letters", "replay", stdout=out)
    assert out.getvalue().strip() == "replayed 2, failed again 0"
    assert not DeadLetter.objects.exists()
    stored = rows(clickhouse, query, ids=ids)
    assert [(r["id"], r["visitor_id"]) for r in stored] == expected
    assert {r["pathname"] for r in stored} == {"/promo-0", "/promo-1"}
    assert all(r["utm_campaign"].endswith("-too-long") and r["session_id"] for r in stored)

    # A replay that died after its insert, before deleting: the letters are back, and
    # replaying them again stores nothing twice.
    for letter in letters:
        letter.save(force_insert=True)
    call_command("dead_letters", "replay", stdout=io.StringIO())
    assert not DeadLetter.objects.exists()
    assert len(rows(clickhouse, query, ids=ids)) == 2


def test_replay_only_the_letters_named(
    rejecting_tables: None,
    make_site: Callable[..., Site],
    clickhouse: ClickHouse,
    fresh_letter_ids: int,
) -> None:
    first, second = _rejected(make_site, clickhouse, 2)
    out = io.StringIO()
    call_command("dead_letters", "replay", "--id", str(second.id), stdout=out)
    assert out.getvalue().strip() == "replayed 1, failed again 0"
    assert list(DeadLetter.objects.values_list("id", flat=True)) == [first.id]
    stored = rows(
        clickhouse,
        "SELECT count() AS n FROM events WHERE event_id IN {ids:Array(UUID)}",
        ids=[first.row["event_id"], second.row["event_id"]],
    )
    assert stored == [{"n": 1}]


def test_purge_needs_a_selection(make_site: Callable[..., Site], clickhouse: ClickHouse) -> None:
    site = make_site("purge-trail.com")
    write_segment([record(site, "/x", u=None), record(site, "/y", u=None), b"not json\n"])
    flush_spool(client=clickhouse)
    first, second, third = DeadLetter.objects.order_by("id")
    with pytest.raises(CommandError, match="purge what"):
        call_command("dead_letters", "purge", stdout=io.StringIO())
    assert DeadLetter.objects.count() == 3

    out = io.StringIO()
    call_command("dead_letters", "purge", "--id", str(second.id), stdout=out)
    assert out.getvalue().strip() == "purged 1"
    assert set(DeadLetter.objects.values_list("id", flat=True)) == {first.id, third.id}

    DeadLetter.objects.filter(id=first.id).update(
        created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    )
    out = io.StringIO()
    call_command("dead_letters", "purge", "--older-than-days", "2", stdout=out)
    assert out.getvalue().strip() == "purged 1"
    assert list(DeadLetter.objects.values_list("id", flat=True)) == [third.id]

    out = io.StringIO()
    call_command("dead_letters", "purge", "--all", stdout=out)
    assert out.getvalue().strip() == "purged 1"
    assert not DeadLetter.objects.exists()


def test_a_letter_that_fails_again_stays_with_the_new_reason(
    make_site: Callable[..., Site], clickhouse: ClickHouse
) -> None:
    site = make_site("fails-again-trail.com")
    write_segment([record(site, "/no-url", u=None)])
    flush_spool(client=clickhouse)
    [letter] = DeadLetter.objects.all()
    out = io.StringIO()
    with pytest.raises(CommandError, match="failed again"):
        call_command("dead_letters", "replay", stdout=out)
    assert out.getvalue().strip() == "replayed 0, failed again 1"
    letter.refresh_from_db()
    assert letter.reason.startswith("replay failed")


# Damaged spool segments


def record(site: Site, path: str, **changes: Any) -> dict[str, Any]:
    """A spool record as the edge writes it (see events.record.to_record)."""
    now = int(time.time() * 1000)
    values: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "s": site.id,
        "rx": now,
        "ts": now,
        "ip": IP,
        "ua": UA,
        "n": "pageview",
        "u": f"https://{site.domain}{path}",
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def line(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"


def write_segment(lines: Sequence[dict[str, Any] | bytes], *, torn: bytes = b"") -> Path:
    """A closed segment written by hand, named as the spool names them."""
    directory = spool_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"testhost-1-{time.time_ns()}-00000001.seg"
    data = b"".join(item if isinstance(item, bytes) else line(item) for item in lines)
    path.write_bytes(data + torn)
    return path


def stored_ids(clickhouse: ClickHouse, site: Site) -> set[str]:
    found = rows(
        clickhouse,
        "SELECT toString(event_id) AS id FROM events WHERE site_id = {s:UInt64}",
        s=site.id,
    )
    return {r["id"] for r in found}


def test_damaged_records_become_anonymous_dead_letters(
    make_site: Callable[..., Site], clickhouse: ClickHouse
) -> None:
    site = make_site("damaged-trail.com")
    good = [record(site, "/first"), record(site, "/second")]
    damaged = line(record(site, "/secret-path"))[:-20] + b"\xff garbage\n"  # IP and UA inside
    missing = record(site, "/missing", u=None, rx=None)
    not_an_object = b'["' + IP.encode() + b'", "x"]\n'
    path = write_segment([good[0], damaged, missing, not_an_object, good[1]])
    report = flush_spool(client=clickhouse)

    assert not path.exists()
    assert stored_ids(clickhouse, site) == {str(uuid.UUID(g["id"])) for g in good}
    letters = list(DeadLetter.objects.filter(segment=path.name).order_by("index"))
    assert [letter.index for letter in letters] == [1, 2, 3]
    assert report.dead_letters >= 3
    unreadable, invalid, odd = letters
    assert unreadable.reason.startswith("unreadable spool record")
    assert unreadable.event == {"bytes": len(damaged)} and unreadable.row is None
    assert "secret-path" not in letter_text(unreadable)
    assert invalid.reason.startswith("invalid spool record") and "KeyError" in invalid.reason
    assert invalid.event == {k: v for k, v in missing.items() if k not in ("ip", "ua")}
    assert invalid.row is None
    assert odd.reason.startswith("invalid spool record") and odd.event == {}
    for letter in letters:
        assert_anonymous(letter)


def test_a_record_whose_values_cannot_be_stored_does_not_block_the_spool(
    make_site: Callable[..., Site], clickhouse: ClickHouse
) -> None:
    site = make_site("poison-trail.com")
    poison = write_segment([record(site, "/a", n="engagement", sd=1000), record(site, "/b")])
    later = write_segment([record(site, "/c")])
    try:
        flush_spool(client=clickhouse)
    except Exception as exc:  # the flush must turn it into a dead letter instead
        poison.unlink(missing_ok=True)
        later.unlink(missing_ok=True)
        raise AssertionError(f"flush_spool raised {exc!r}") from exc
    assert not poison.exists() and not later.exists()
    assert len(stored_ids(clickhouse, site)) == 2
    [letter] = DeadLetter.objects.filter(segment=poison.name)
    assert_anonymous(letter)


def test_a_torn_last_line_is_skipped_not_a_dead_letter(
    make_site: Callable[..., Site], clickhouse: ClickHouse
) -> None:
    site = make_site("torn-trail.com")
    good = [record(site, "/one"), record(site, "/two")]
    unacknowledged = record(site, "/three")
    torn = line(unacknowledged)[:-1]  # complete JSON, but the newline never made it to disk
    path = write_segment(good, torn=torn)
    report = flush_spool(client=clickhouse)
    assert not path.exists()
    assert stored_ids(clickhouse, site) == {str(uuid.UUID(g["id"])) for g in good}
    assert not DeadLetter.objects.filter(segment=path.name).exists()
    assert report.errors == []
