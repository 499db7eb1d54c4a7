"""Umami's own clients against Trail, with only the base URL changed: `@umami/node` (the
server-side tracker, `POST /api/send`) and `@umami/api-client` (the typed client generated
from Umami's OpenAPI contract, the read API). Both are Umami's published npm packages
(package.json's devDependencies), run by Node against a real HTTP server of Trail's WSGI
application (the ingest route in front of Django, as `manage.py serve` answers it).
"""

from __future__ import annotations

import datetime as dt
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
from tests.reports.conftest import CHROME_ANDROID, FIREFOX, hit

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


READ = r"""
import { UmamiClient, isUmamiApiError } from '@umami/api-client';
const base = process.env.TRAIL + '/api';
const website = process.env.WEBSITE;
const startAt = Number(process.env.START_AT), endAt = Number(process.env.END_AT);
const out = {};
const tryCall = async (name, call) => {
  try { out[name] = await call(); }
  catch (error) { out[name] = isUmamiApiError(error) ? { error: error.status, code: error.code } : { thrown: String(error) }; }
};
const key = new UmamiClient({ baseUrl: base, token: process.env.KEY });
const cloud = new UmamiClient({ baseUrl: base, apiKey: process.env.KEY });
await tryCall('websites', () => key.listWebsites());
await tryCall('website', () => key.getWebsite({ websiteId: website }));
await tryCall('stats', () => key.getWebsiteStats({ websiteId: website, startAt, endAt }));
await tryCall('statsPositional', () => cloud.getWebsiteStats(website, { startAt, endAt }));
await tryCall('pageviews', () => key.getWebsitePageviews({ websiteId: website, startAt, endAt, unit: 'day', timezone: 'UTC' }));
await tryCall('paths', () => key.getWebsiteMetrics({ websiteId: website, startAt, endAt, type: 'path', limit: 10 }));
await tryCall('browsers', () => key.getWebsiteMetrics({ websiteId: website, startAt, endAt, type: 'browser' }));
await tryCall('active', () => key.getWebsiteActive({ websiteId: website }));
await tryCall('events', () => key.getWebsiteEvents({ websiteId: website, startAt, endAt, pageSize: 10 }));
await tryCall('unknownWebsite', () => key.getWebsite({ websiteId: '00000000-0000-0000-0000-000000000000' }));
await tryCall('badToken', () => new UmamiClient({ baseUrl: base, token: 'trail_not-a-key' }).listWebsites());
const login = await key.login({ username: process.env.EMAIL, password: process.env.PASSWORD }).catch((e) => ({ error: e.status }));
out.login = login.token ? { user: login.user.username } : login;
if (login.token) {
  await tryCall('viaLogin', () => key.withToken(login.token).getWebsiteStats({ websiteId: website, startAt, endAt }));
}
console.log(JSON.stringify(out));
"""


def test_umami_api_client_reads_what_was_sent(
    trail_url: str,
    tmp_path: Path,
    make_site: Callable[..., Site],
    seed: Callable[[Site, list[dict[str, Any]]], None],
) -> None:
    site = make_site("umami-reader.example")
    day = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    at = day - dt.timedelta(days=2) + dt.timedelta(hours=10)
    a = {"ip": "198.51.100.61", "user_agent": FIREFOX}
    b = {"ip": "198.51.100.62", "user_agent": CHROME_ANDROID}
    seed(
        site,
        [
            hit(site, at, "/", **a),
            hit(site, at + dt.timedelta(minutes=1), "/pricing", **a),
            hit(site, at + dt.timedelta(minutes=3), "/pricing", **b),
        ],
    )
    owner = site.organization.memberships.get().user
    owner.emailaddress_set.create(email=owner.email, verified=True, primary=True)
    _, key = factories.api_key(site.organization, scopes=("stats:read",))
    start = day - dt.timedelta(days=6)
    out = node(
        tmp_path,
        READ,
        TRAIL=trail_url,
        WEBSITE=str(site.public_id),
        KEY=key,
        START_AT=str(int(start.timestamp() * 1000)),
        END_AT=str(int((day + dt.timedelta(days=1)).timestamp() * 1000) - 1),
        EMAIL=owner.email,
        PASSWORD=factories.PASSWORD,
    )
    websites = out["websites"]
    assert [w["id"] for w in websites["data"]] == [str(site.public_id)], out
    assert websites["data"][0]["domain"] == site.domain
    assert out["website"]["id"] == str(site.public_id)
    stats = out["stats"]
    assert (stats["pageviews"], stats["visitors"], stats["visits"], stats["bounces"]) == (
        3,
        2,
        2,
        1,
    )
    assert out["statsPositional"] == stats  # the x-umami-api-key form, positional arguments
    pageviews = out["pageviews"]
    by_day = {point["x"][:10]: point["y"] for point in pageviews["pageviews"]}
    assert by_day[at.date().isoformat()] == 3
    assert {point["x"][:10]: point["y"] for point in pageviews["sessions"]}[
        at.date().isoformat()
    ] == 2
    assert out["paths"] == [{"x": "/pricing", "y": 2}, {"x": "/", "y": 1}]
    assert sorted(row["x"] for row in out["browsers"]) == ["Chrome", "Firefox"]
    assert out["active"]["visitors"] == 0  # nobody in the last five minutes
    events = out["events"]
    assert events["count"] == 3 and len(events["data"]) == 3
    assert out["unknownWebsite"] == {"error": 404, "code": "not-found"}
    assert out["badToken"]["error"] == 401
    assert out["login"] == {"user": owner.email}
    assert out["viaLogin"] == stats
