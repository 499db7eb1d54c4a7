"""An import upload through the real server (`manage.py serve`, embedded): a body far over
the gate's in-memory cap (Django's DATA_UPLOAD_MAX_MEMORY_SIZE) is spooled to disk by the
gate and taken by the import API (trail/gate.py `Uploads`); the import runs and its events
are counted. Without a declared length an upload is refused with 411."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from reports.raw_export import COLUMNS as EXPORT_COLUMNS
from tests.helpers import child_env, free_port, manage, serving

COLUMNS = [column.name for column in EXPORT_COLUMNS]

DOMAIN = "served-import.test"
EVENTS = 40_000  # ~20 MB of NDJSON: over the 8 MiB in-memory cap
SETUP = (
    "from accounts.models import User; from accounts.services import organization_create,"
    " api_key_create; from sites.services import site_create;"
    "owner = User.objects.create_user(email='owner@served-import.test', password='x' * 20);"
    "org = organization_create(name='Served', owner=owner);"
    f"site_create(organization=org, domain={DOMAIN!r});"
    "_, raw = api_key_create(organization=org, actor=owner, name='k',"
    " scopes=['sites:manage', 'sites:read', 'stats:read']); print(raw)"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    env = child_env(tmp_path_factory.mktemp("var"))
    assert manage("migrate", "--noinput", env=env).returncode == 0
    done = manage("shell", "-c", SETUP, env=env)
    assert done.returncode == 0, done.stderr
    port = free_port()
    with serving(env, port):
        yield port, done.stdout.split()[-1]


# A row of Trail's raw export (docs/exports.md, version 1) with its empty values.
BLANK = {
    **dict.fromkeys(COLUMNS, ""),
    "name": "pageview",
    "hostname": DOMAIN,
    "channel": "Direct",
    "props": {},
    "revenue_amount": None,
    "interactive": True,
    "scroll_depth": None,
    "engaged_ms": None,
}


def ndjson(path: Path) -> int:
    """A Trail raw export of EVENTS pageviews of yesterday, as NDJSON; its size."""
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86_400))
    with path.open("w") as out:
        for i in range(EVENTS):
            row = {
                **BLANK,
                "event_id": str(uuid.uuid4()),
                "timestamp": f"{day}T12:{i // 60 % 60:02d}:{i % 60:02d}.000Z",
                "page": f"/page-{i % 50}/" + "x" * 300,
                "visitor_id": str(1000 + i % 700),
                "visit_id": str(5000 + i % 900),
            }
            out.write(json.dumps(row) + "\n")
    return path.stat().st_size


def multipart(path: Path, boundary: str) -> bytes:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="source"\r\n\r\ntrail\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: application/x-ndjson\r\n\r\n"
    ).encode()
    return head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()


def test_a_big_upload_is_spooled_and_imported(served: tuple[int, str], tmp_path: Path) -> None:
    port, key = served
    path = tmp_path / "events.ndjson"
    assert ndjson(path) > 8 * 1024 * 1024
    boundary = uuid.uuid4().hex
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    conn.request("POST", f"/api/v1/sites/{DOMAIN}/imports", multipart(path, boundary), headers)
    answer = conn.getresponse()
    created = json.loads(answer.read())
    assert answer.status == 202, created
    deadline = time.monotonic() + 90
    while True:
        conn.request("GET", f"/api/v1/imports/{created['id']}", headers=headers)
        job = json.loads(conn.getresponse().read())
        if job["status"] not in ("queued", "running"):
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["status"] == "done", job.get("error")
    assert job["rows"] == EVENTS


def test_an_upload_without_its_length_is_411(served: tuple[int, str]) -> None:
    port, key = served
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("POST", f"/api/v1/sites/{DOMAIN}/imports")
    conn.putheader("Authorization", f"Bearer {key}")
    conn.putheader("Content-Type", "multipart/form-data; boundary=x")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    conn.send(b"5\r\n--x--\r\n0\r\n\r\n")
    answer = conn.getresponse()
    assert answer.status == 411, answer.read()
