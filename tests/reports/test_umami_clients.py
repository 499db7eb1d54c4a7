"""Umami's own clients against Trail, with only the base URL changed: `@umami/node` (the
server-side tracker, `POST /api/send`) and `@umami/api-client` (the typed client generated
from Umami's OpenAPI contract, the read API). Both are Umami's published npm packages
(package.json's devDependencies), run by Node against a real HTTP server of Trail's WSGI
application (the ingest route in front of Django, as `manage.py serve` answers it).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.conf import settings

from events.clickhouse import ClickHouse
from events.flush import FlushReport
from sites.models import Site
from tests import factories

NODE = shutil.which("node")
MODULES = Path(settings.BASE_DIR) / "node_modules" / "@umami"
pytestmark = [
    pytest.mark.django_db(transaction=True),  # the server's threads read what the test wrote
    pytest.mark.skipif(
        NODE is None or not (MODULES / "node").is_dir() or not (MODULES / "api-client").is_dir(),
        reason="needs Node and `npm ci` (Umami's clients are devDependencies)",
    ),
]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def trail_url() -> Iterator[str]:
    """Trail's WSGI application (ingest route + Django) on a loopback port."""
    from django.core.wsgi import get_wsgi_application

    from events.ingest.wsgi import wrap

    server = make_server(
        "127.0.0.1", 0, wrap(get_wsgi_application()), server_class=_Server, handler_class=_Quiet
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def node(tmp_path: Path, script: str, **env: str) -> Any:
    """Run `script` (an ES module) with Node; its last stdout line, parsed as JSON."""
    path = tmp_path / "client.mjs"
    path.write_text(  # an ES module resolves packages from its own directory: give the files
        script.replace("'@umami/node'", repr((MODULES / "node/dist/index.mjs").as_uri())).replace(
            "'@umami/api-client'", repr((MODULES / "api-client/dist/index.js").as_uri())
        )
    )
    done = subprocess.run(  # noqa: S603 (our own script)
        [str(NODE), str(path)],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


SEND = r"""
import umami from '@umami/node';
umami.init({ websiteId: process.env.WEBSITE, hostUrl: process.env.TRAIL });
const answers = [];
const keep = async (sent) => { const r = await sent; answers.push([r.status, r.headers.get('x-trail-dropped'), await r.text()]); };
await keep(umami.track({ hostname: 'umami-node.example', url: '/home', title: 'Home',
  referrer: 'https://news.ycombinator.com/item?id=1', language: 'en-US', screen: '1920x1080' }));
await keep(umami.track({ hostname: 'umami-node.example', url: '/pricing?plan=pro' }));
await keep(umami.track({ url: '/no-hostname' }));
await keep(umami.track('signup', { plan: 'pro', seats: 3 }));
await keep(umami.track({ hostname: 'umami-node.example', url: '/checkout', name: 'purchase', data: { total: 42.5 } }));
await keep(umami.identify({ plan: 'pro' }));
console.log(JSON.stringify(answers));
"""


def test_umami_node_client_sends_pageviews_and_events(
    trail_url: str,
    tmp_path: Path,
    make_site: Callable[..., Site],
    flush: Callable[..., FlushReport],
    clickhouse: ClickHouse,
) -> None:
    site = make_site("umami-node.example")
    answers = node(tmp_path, SEND, TRAIL=trail_url, WEBSITE=str(site.public_id))
    assert [status for status, _, _ in answers] == [200] * 5 + [200], answers
    dropped = [d for _, d, _ in answers]
    assert dropped[:5] == [None] * 5, answers  # kept, under its Node user agent too
    assert dropped[5] == "identify"  # Umami's session data: nothing to store
    flush()
    rows = clickhouse.query(
        "SELECT name, pathname, referrer_source, props FROM events WHERE site_id = {site:UInt64} "
        "ORDER BY timestamp, name",
        {"site": site.id},
    )
    found = [(r["name"], r["pathname"], r["referrer_source"], dict(r["props"])) for r in rows]
    assert ("pageview", "/home", "Hacker News", {}) in found
    assert ("pageview", "/pricing", "", {}) in found
    assert ("pageview", "/no-hostname", "", {}) in found
    assert ("signup", "/", "", {"plan": "pro", "seats": "3"}) in [
        (n, p or "/", s, props) for n, p, s, props in found
    ]
    assert ("purchase", "/checkout", "", {"total": "42.5"}) in found
    assert len(found) == 5
