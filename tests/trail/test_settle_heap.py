"""`runtime.settle_heap()`: a served worker's loaded heap is out of the collector's reach,
young collections are rarer, and garbage made afterwards is still collected. Each case runs
in a child process (the collector's state is the whole process's)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import PYTHON, child, child_env
from trail.runtime import YOUNG_THRESHOLD

SETTLED = """
import gc, json
from trail import runtime

runtime.settle_heap()
frozen, threshold = gc.get_freeze_count(), gc.get_threshold()

class Node:
    pass

for _ in range(1000):  # cycles made after settling: garbage the collector must still find
    a, b = Node(), Node()
    a.other, b.other = b, a
del a, b
print(json.dumps({"frozen": frozen, "threshold": threshold, "collected": gc.collect()}))
"""

# What a granian worker runs to load Trail (manage.py serve's target loader), then exits at
# once: the job thread it starts is not waited for.
SERVED = """
import gc, json, os, django
django.setup()
from trail.management.commands import serve

os.environ[serve.THREADS_VARIABLE] = "2"
gate = serve.load_application(serve.APPLICATION)
print(json.dumps({"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}), flush=True)
os._exit(0)
"""


def _run(code: str, var: Path) -> dict[str, object]:
    done = child([PYTHON, "-c", code], child_env(var))
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_settle_heap_freezes_what_is_loaded_and_still_collects_new_garbage(tmp_path: Path) -> None:
    found = _run(SETTLED, tmp_path)
    assert int(found["frozen"]) > 1000  # the interpreter's and trail.runtime's objects  # type: ignore[call-overload]
    assert found["threshold"][0] == YOUNG_THRESHOLD  # type: ignore[index]
    assert int(found["collected"]) >= 2000  # type: ignore[call-overload]


def test_a_served_worker_is_settled_once_trail_is_loaded(tmp_path: Path) -> None:
    found = _run(SERVED, tmp_path)
    # Django, the URL patterns and every app loaded: far more than a bare interpreter
    assert int(found["frozen"]) > 50_000  # type: ignore[call-overload]
    assert found["threshold"][0] == YOUNG_THRESHOLD  # type: ignore[index]
