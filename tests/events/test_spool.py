"""The spool: acknowledged means on disk, even across kill -9; segments rotate and recover."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from events.spool import (
    OPEN_SUFFIX,
    Spool,
    SpoolFull,
    backlog,
    closed_segments,
    read_segment,
    recover_orphans,
)
from tests.helpers import PYTHON, REPO


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    writer = Spool(tmp_path, rotate_seconds=0.2)
    yield writer
    writer.close()


def _all_records(directory: Path) -> list[dict[str, object]]:
    return [record for path in closed_segments(directory) for record in read_segment(path)]


def test_records_are_on_disk_when_append_returns(spool: Spool, tmp_path: Path) -> None:
    spool.append([{"n": 1}, {"n": 2, "text": "ünïcode \u2028 line"}])
    # Before rotation the segment is open, but its bytes are written and synced.
    [open_segment] = list(tmp_path.glob(f"*{OPEN_SUFFIX}"))
    assert open_segment.read_bytes().count(b"\n") == 2
    assert backlog(tmp_path).segments == 1
    time.sleep(0.5)
    assert _all_records(tmp_path) == [{"n": 1}, {"n": 2, "text": "ünïcode \u2028 line"}]
    assert not list(tmp_path.glob(f"*{OPEN_SUFFIX}"))


def test_rotation_by_count(tmp_path: Path) -> None:
    writer = Spool(tmp_path, rotate_seconds=60, rotate_records=10)
    try:
        for i in range(35):
            writer.append([{"i": i}])
    finally:
        writer.close()
    segments = closed_segments(tmp_path)
    assert len(segments) == 4
    assert [r["i"] for r in _all_records(tmp_path)] == list(range(35))
    names = [p.name for p in segments]
    assert len(set(names)) == len(names)


def test_concurrent_appends_are_all_kept_once(spool: Spool, tmp_path: Path) -> None:
    def worker(thread: int) -> None:
        for i in range(300):
            spool.append([{"t": thread, "i": i}])

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spool.close()
    records = _all_records(tmp_path)
    assert len(records) == 8 * 300
    assert {(r["t"], r["i"]) for r in records} == {(t, i) for t in range(8) for i in range(300)}


def test_torn_last_line_is_skipped(tmp_path: Path) -> None:
    segment = tmp_path / "host-1-1-00000001.seg"
    segment.write_bytes(b'{"n":1}\n{"n":2}\n{"n":')
    assert list(read_segment(segment)) == [{"n": 1}, {"n": 2}]


def test_backlog_over_its_cap_refuses(tmp_path: Path) -> None:
    (tmp_path / "old-1-1-00000001.seg").write_bytes(b'{"x":1}\n' * 1000)
    writer = Spool(tmp_path, max_backlog_bytes=100)
    try:
        with pytest.raises(SpoolFull, match="over its cap"):
            writer.append([{"n": 1}])
    finally:
        writer.close()
    assert _all_records(tmp_path) == [{"x": 1}] * 1000


def test_recovery_leaves_live_writers_alone(spool: Spool, tmp_path: Path) -> None:
    spool.append([{"n": 1}])
    assert recover_orphans(tmp_path) == []
    assert list(tmp_path.glob(f"*{OPEN_SUFFIX}"))


WRITER = """
import sys
from pathlib import Path
from events.spool import Spool
spool = Spool(Path(sys.argv[1]), rotate_seconds=0.05, rotate_records=200)
i = int(sys.argv[2])
while True:
    spool.append([{"i": i, "pad": "x" * 200}])
    print(i, flush=True)
    i += 1
"""


def test_acknowledged_records_survive_kill_9(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "TRAIL_VAR_DIR": str(tmp_path / "var"),
    }
    acknowledged: set[int] = set()
    for round_ in range(3):
        writer = subprocess.Popen(
            [PYTHON, "-c", WRITER, str(tmp_path / "spool"), str(round_ * 1_000_000)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            line = writer.stdout.readline()
            if not line:
                break
            acknowledged.add(int(line))
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        # What it printed before dying was acknowledged too.
        acknowledged.update(int(line) for line in writer.stdout.read().split())
        recover_orphans(tmp_path / "spool")
    assert len(acknowledged) > 100
    assert {i // 1_000_000 for i in acknowledged} == {0, 1, 2}  # every round acknowledged some
    stored = {int(r["i"]) for r in _all_records(tmp_path / "spool")}  # type: ignore[call-overload]
    assert acknowledged <= stored
    assert not list((tmp_path / "spool").glob(f"*{OPEN_SUFFIX}"))


def test_the_orphan_hunter_never_takes_a_live_writers_segment(tmp_path: Path) -> None:
    """Found under load: a flusher took a segment between its creation and its lock."""
    writer = Spool(tmp_path, rotate_seconds=0.01, rotate_records=7)
    errors: list[BaseException] = []
    stop = threading.Event()

    def hunt() -> None:
        while not stop.is_set():
            recover_orphans(tmp_path)

    def append(base: int) -> None:
        for n in range(300):
            try:
                writer.append([{"n": base + n}])
            except OSError as exc:
                errors.append(exc)

    hunters = [threading.Thread(target=hunt) for _ in range(2)]
    appenders = [threading.Thread(target=append, args=(i * 1000,)) for i in range(4)]
    for thread in hunters + appenders:
        thread.start()
    for thread in appenders:
        thread.join()
    stop.set()
    for thread in hunters:
        thread.join()
    writer.close()
    assert errors == []
    numbers = sorted(int(str(r["n"])) for r in _all_records(tmp_path))
    assert numbers == sorted(i * 1000 + n for i in range(4) for n in range(300))


def test_a_failed_write_fails_its_appends_only_and_the_spool_goes_on(tmp_path: Path) -> None:
    writer = Spool(tmp_path, rotate_seconds=60)
    try:
        writer.append([{"n": 1}])
        [segment] = tmp_path.glob(f"*{OPEN_SUFFIX}")
        segment.rename(tmp_path / "moved-away")  # the writer's rename will now fail
        with pytest.raises(OSError, match="cannot write"):
            writer.rotate()
        writer.append([{"n": 2}])  # a new segment, no lasting failure
        writer.rotate()
    finally:
        writer.close()
    assert [r["n"] for r in _all_records(tmp_path)] == [2]
    assert [r["n"] for r in read_segment(tmp_path / "moved-away")] == [1]


class _StallingSpool(Spool):
    """A spool on a disk that stalls: each write waits for the test to let it through."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, rotate_seconds=60)
        self.gate = threading.Event()
        self.writing = threading.Event()

    def _write(self, batch: list[bytes]) -> None:
        self.writing.set()
        self.gate.wait(10)
        super()._write(batch)


def test_a_stalled_write_times_out_the_impatient_and_hands_on_to_the_rest(
    tmp_path: Path,
) -> None:
    writer = _StallingSpool(tmp_path)
    outcomes: dict[str, str] = {}

    def append(name: str, timeout: float) -> None:
        try:
            writer.append([{"n": name}], timeout=timeout)
            outcomes[name] = "ok"
        except OSError as exc:
            outcomes[name] = str(exc)

    first = threading.Thread(target=append, args=("first", 10))
    first.start()
    assert writer.writing.wait(5)  # `first` is the writer, stuck on the disk
    waiting = [threading.Thread(target=append, args=(name, 10)) for name in ("a", "b", "c")]
    impatient = threading.Thread(target=append, args=("impatient", 0.2))
    for thread in [*waiting, impatient]:
        thread.start()
    impatient.join(5)
    assert outcomes == {"impatient": "the spool did not confirm the write in time"}
    writer.gate.set()  # the disk answers: one of a, b, c writes the next batch for all
    for thread in [first, *waiting]:
        thread.join(5)
    assert outcomes == {n: "ok" for n in ("first", "a", "b", "c")} | {
        "impatient": "the spool did not confirm the write in time"
    }
    writer.append([{"n": "after"}])
    writer.close()
    # The impatient record was written with its batch (its client got an error and may
    # send it again: at least once, never lost).
    assert sorted(str(r["n"]) for r in _all_records(tmp_path)) == sorted(
        ["first", "a", "b", "c", "impatient", "after"]
    )


def test_rotations_between_concurrent_appends_lose_nothing(tmp_path: Path) -> None:
    writer = Spool(tmp_path, rotate_seconds=60)
    stop = threading.Event()
    appending = threading.Event()
    rotated = threading.Event()  # a few rotations have happened since the appends began

    def rotate() -> None:
        count = 0
        while not stop.is_set():
            writer.rotate()
            count += appending.is_set()
            if count >= 3:
                rotated.set()

    def worker(thread: int) -> None:
        for i in range(200):
            if i == 100:  # half-way, on a loaded machine too: rotations between appends
                assert rotated.wait(30)
            writer.append([{"t": thread, "i": i}])
            appending.set()

    rotator = threading.Thread(target=rotate)
    rotator.start()
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    rotator.join()
    writer.close()
    records = _all_records(tmp_path)
    assert len(records) == 12 * 200
    assert {(r["t"], r["i"]) for r in records} == {(t, i) for t in range(12) for i in range(200)}
    assert len(closed_segments(tmp_path)) > 1
