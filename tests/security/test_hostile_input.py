"""No 500 from hostile input (issue 23.6): every endpoint that takes a JSON body or a filter
answers a malformed one with 400 and a message, `{"error": ...}` under /api/ and a readable
panel on the dashboard.

JSON bodies are posted through Trail's WSGI application as a server would (the lean ingest
routes included); the dashboard's panels and downloads through Django's client, as a member
and anonymously through a shared link. The site has events in range, so that ClickHouse
really evaluates every filter (it compiles a pattern only when it has rows to match).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from django.urls import URLResolver, get_resolver, resolve

from events.ingest.handler import ROUTES
from frontend.dashboard import PANELS
from sites import services
from sites.models import Site
from tests import factories
from tests.reports.conftest import hit
from tests.wsgi_client import Answer, post

pytestmark = pytest.mark.django_db

DOMAIN = "hostile-input-trail.com"
NOW = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
SURROGATE = "@SURROGATE@"  # written into the body as the JSON escape \ud800, unpaired
# a pattern Python's `re` accepts and RE2 (ClickHouse) refuses, and one both refuse
BAD_PATTERNS = ("(?<=a)b", "(unclosed")


@pytest.fixture
def site(make_site: Callable[..., Site], seed: Callable[..., None]) -> Site:
    site = make_site(DOMAIN)
    seed(
        site,
        [
            hit(site, NOW, "/", ip="192.0.2.1"),
            hit(site, NOW, "/pricing", ip="192.0.2.1"),
            hit(site, NOW, "/", name="Signup", ip="192.0.2.2", props={"plan": "pro"}),
        ],
    )
    services.funnel_create(
        site=site,
        name="home to pricing",
        steps=[{"type": "page", "value": "/"}, {"type": "page", "value": "/pricing"}],
        window=1800,
    )
    services.goal_create(site=site, kind="event", value="Signup")
    return site


@pytest.fixture
def key(site: Site) -> str:
    _, raw = factories.api_key(site.organization)  # every scope
    return raw


def _ids(site: Site) -> dict[str, str]:
    """The ids the item routes' paths name: the site's goal and funnel, its owner."""
    owner = site.organization.memberships.get(role="owner")
    return {
        "goal": str(site.goals.get().pk),
        "funnel": str(site.funnels.get().pk),
        "member": str(owner.user_id),
    }


# ----------------------------------------------------------------------------------------
# Every endpoint that takes a JSON body: (method, path, a valid body with SURROGATE in a
# string that reaches the endpoint's logic)

STATS = {"site_id": DOMAIN, "metrics": ["visitors"], "date_range": "7d"}
FUNNEL = {
    "site_id": DOMAIN,
    "date_range": "7d",
    "steps": [{"type": "page", "pattern": "/"}, {"type": "page", "pattern": "/pricing"}],
}
PAGE = f"https://{DOMAIN}/"
JSON_ENDPOINTS = {
    "stats-filter": (
        "POST",
        "/api/v2/query",
        {**STATS, "filters": [["is", "event:page", [f"/{SURROGATE}"]]]},
    ),
    "stats-dimension": ("POST", "/api/v2/query", {**STATS, "dimensions": [SURROGATE]}),
    "funnel-step": (
        "POST",
        "/api/v1/funnels/query",
        {**FUNNEL, "steps": [{"type": "page", "pattern": SURROGATE}, FUNNEL["steps"][1]]},
    ),
    "funnel-filter": (
        "POST",
        "/api/v1/funnels/query",
        {**FUNNEL, "filters": [["contains", "event:page", [SURROGATE]]]},
    ),
    "sites-create": ("POST", "/api/v1/sites", {"domain": f"x{SURROGATE}.com", "timezone": "UTC"}),
    "sites-update": ("PUT", f"/api/v1/sites/{DOMAIN}", {"timezone": SURROGATE}),
    "batch-events": (
        "POST",
        "/api/v1/events",
        {"events": [{"domain": DOMAIN, "name": SURROGATE, "url": PAGE}]},
    ),
    "plausible-event": ("POST", "/api/event", {"n": "pageview", "u": PAGE, "d": SURROGATE}),
    "umami-send": (
        "POST",
        "/api/send",
        {"type": "event", "payload": {"website": "x", "url": "/", "data": {"k": SURROGATE}}},
    ),
    "goal-create": (
        "POST",
        f"/api/v1/sites/{DOMAIN}/goals",
        {"goal_type": "event", "event_name": SURROGATE},
    ),
    "goal-update": (
        "PUT",
        f"/api/v1/sites/{DOMAIN}/goals/{{goal}}",
        {"goal_type": "event", "event_name": SURROGATE},
    ),
    "funnel-create": (
        "POST",
        f"/api/v1/sites/{DOMAIN}/funnels",
        {"name": SURROGATE, "steps": FUNNEL["steps"], "window": 1800},
    ),
    "funnel-update": (
        "PUT",
        f"/api/v1/sites/{DOMAIN}/funnels/{{funnel}}",
        {"name": SURROGATE, "steps": FUNNEL["steps"], "window": 1800},
    ),
    "shared-link-create": ("POST", f"/api/v1/sites/{DOMAIN}/shared-links", {"name": SURROGATE}),
    "alert-create": (
        "POST",
        f"/api/v1/sites/{DOMAIN}/alerts",
        {
            "name": SURROGATE,
            "metric": "visitors",
            "window": "5m",
            "condition": "above",
            "threshold": 3,
        },
    ),
    "alert-update": ("PATCH", f"/api/v1/sites/{DOMAIN}/alerts/0", {"name": SURROGATE}),
    "email-report-create": (
        "POST",
        f"/api/v1/sites/{DOMAIN}/email-reports",
        {"email": SURROGATE, "frequency": "weekly"},
    ),
    "export-create": (
        "POST",
        f"/api/v1/sites/{DOMAIN}/exports",
        {
            "kind": "events",
            "format": "ndjson",
            "date_range": "7d",
            "filters": [["is", "event:page", [f"/{SURROGATE}"]]],
        },
    ),
    "deletion-preview": (
        "POST",
        f"/api/v1/sites/{DOMAIN}/deletions",
        {"date_range": "7d", "filters": [["is", "event:page", [f"/{SURROGATE}"]]], "preview": True},
    ),
    "destination-create": (
        "POST",
        f"/api/v1/sites/{DOMAIN}/destinations",
        {"type": "webhook", "url": "https://example.com/hook", "secret": SURROGATE},
    ),
    "destination-update": (
        "PATCH",
        f"/api/v1/sites/{DOMAIN}/destinations/1",
        {"secret": SURROGATE},
    ),
    "key-create": ("POST", "/api/v1/keys", {"name": SURROGATE, "scopes": ["stats:read"]}),
    "invitation-create": (
        "POST",
        "/api/v1/invitations",
        {"email": f"{SURROGATE}@example.com", "role": "viewer"},
    ),
    "member-update": ("PUT", "/api/v1/members/{member}", {"role": SURROGATE}),
    "plausible-goal": (
        "PUT",
        "/api/v1/sites/goals",
        {"site_id": DOMAIN, "goal_type": "event", "event_name": SURROGATE},
    ),
    "plausible-shared-link": (
        "PUT",
        "/api/v1/sites/shared-links",
        {"site_id": DOMAIN, "name": SURROGATE},
    ),
    "plausible-custom-prop": (
        "PUT",
        "/api/v1/sites/custom-props",
        {"site_id": DOMAIN, "property": SURROGATE},
    ),
    "plausible-guest": (
        "PUT",
        "/api/v1/sites/guests",
        {"site_id": DOMAIN, "email": f"{SURROGATE}@example.com", "role": "viewer"},
    ),
    "umami-login": ("POST", "/api/auth/login", {"username": SURROGATE, "password": "x"}),
}
# POST routes that read no body: Umami's token check answers POST as GET.
NO_BODY = {"/api/auth/verify"}
NO_BODY.add("/api/v1/sites/<str:domain>/imports")  # multipart: tests/reports/test_imports_api.py
NO_BODY.add("/api/v1/sites/<str:domain>/alerts/<str:alert_id>/test")  # sends, reads nothing
LEAN_LIMIT = 64 * 1024  # the browser routes' body limit: a deeper body is 413 before parsing


Send = Callable[[str, str, bytes], Answer]
LEAN = tuple(ROUTES)  # answered in front of Django


@pytest.fixture
def api(client: Any, key: str, site: Site) -> Send:
    """Send a body: to the lean routes through Trail's WSGI application, as a server would;
    to Django's through its test client (which keeps the test's database connection), with
    the API key. `{goal}`, `{funnel}` and `{member}` in a path become the site's ids."""
    ids = _ids(site)

    def send(method: str, path: str, body: bytes) -> Answer:
        path = path.format(**ids)
        if path in LEAN:
            return post(path, body, content_type="application/json", method=method)
        answer = client.generic(
            method, path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
        )
        return Answer(answer.status_code, dict(answer.headers), answer.content)

    return send


def _refused(answer: Answer, *words: str) -> str:
    assert answer.status == 400, (answer.status, answer.body[:300])
    message = json.loads(answer.body)["error"]
    if isinstance(message, dict):  # Umami's error shape: {"error": {"message", …}}
        message = message["message"]
    assert isinstance(message, str)
    for word in words:
        assert word in message, message
    return message


def _body_routes(resolver: URLResolver, prefix: str = "") -> Iterator[str]:
    """Every route of the URL conf whose view takes a body (POST, PUT or PATCH)."""
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _body_routes(entry, route)
            continue
        view = getattr(entry.callback, "view_class", None)
        if view is not None and {"post", "put", "patch"} & set(dir(view)):
            yield "/" + route


def test_every_api_route_that_takes_a_body_is_listed() -> None:
    """A new JSON endpoint cannot escape the tests below."""
    made_up = {"goal": "1", "funnel": "1", "member": "1"}
    listed = {
        path if path in LEAN else "/" + resolve(path.format(**made_up)).route
        for _, path, _ in JSON_ENDPOINTS.values()
    }
    routes = {r for r in _body_routes(get_resolver()) if r.startswith("/api/")}
    assert routes, "no API route found"
    assert (routes | set(ROUTES)) - NO_BODY <= listed, (routes | set(ROUTES)) - NO_BODY - listed


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS)
def test_an_unpaired_surrogate_is_400(site: Site, api: Send, endpoint: str) -> None:
    method, path, body = JSON_ENDPOINTS[endpoint]
    raw = json.dumps(body).replace(SURROGATE, "\\ud800").encode()
    assert b"\\ud800" in raw
    _refused(api(method, path, raw), "surrogate")


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS)
def test_a_lone_low_surrogate_in_a_key_is_400(site: Site, api: Send, endpoint: str) -> None:
    method, path, body = JSON_ENDPOINTS[endpoint]
    raw = json.dumps({**body, "\\udc00": 1}).replace("\\\\udc00", "\\udc00").encode()
    _refused(api(method, path, raw), "surrogate")


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS)
def test_deep_json_is_400(site: Site, api: Send, endpoint: str) -> None:
    method, path, _ = JSON_ENDPOINTS[endpoint]
    depth = 100_000 if path.startswith("/api/v") else (LEAN_LIMIT - 100) // 2
    _refused(api(method, path, b"[" * depth + b"]" * depth), "nested too deeply")
    nested = b'{"site_id": "' + DOMAIN.encode() + b'", "x": ' + b"[" * depth + b"]" * depth + b"}"
    _refused(api(method, path, nested), "nested too deeply")


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS)
def test_the_valid_body_is_not_refused(site: Site, api: Send, endpoint: str) -> None:
    """The bodies above are refused for their hostile part alone."""
    method, path, body = JSON_ENDPOINTS[endpoint]
    raw = json.dumps(body).replace(SURROGATE, "ok").encode()
    answer = api(method, path, raw)
    assert answer.status != 500, answer.body
    if endpoint in ("stats-filter", "funnel-step", "funnel-filter", "sites-create"):
        assert answer.status in (200, 201), answer.body


# ----------------------------------------------------------------------------------------
# Patterns RE2 refuses, in a Stats API or funnel filter


@pytest.mark.parametrize("pattern", BAD_PATTERNS)
@pytest.mark.parametrize("op", ["matches", "matches_not"])
def test_a_bad_pattern_in_a_stats_filter_is_400(
    site: Site, api: Send, pattern: str, op: str
) -> None:
    for body in (
        {**STATS, "filters": [[op, "event:page", [pattern]]]},
        {**STATS, "filters": [["not", [op, "visit:source", [pattern], {"case_sensitive": False}]]]},
        {**STATS, "dimensions": ["event:page"], "filters": [[op, "event:props:plan", [pattern]]]},
    ):
        message = _refused(api("POST", "/api/v2/query", json.dumps(body).encode()))
        assert message.startswith("filters: not a valid RE2 regular expression"), message


@pytest.mark.parametrize("pattern", BAD_PATTERNS)
def test_a_bad_pattern_in_a_funnel_filter_is_400(site: Site, api: Send, pattern: str) -> None:
    body = {**FUNNEL, "filters": [["matches", "event:page", [pattern]]]}
    message = _refused(api("POST", "/api/v1/funnels/query", json.dumps(body).encode()))
    assert message.startswith("filters: not a valid RE2 regular expression"), message


def test_a_refused_pattern_leaves_the_engine_well(site: Site, api: Send) -> None:
    """chDB garbles the query after one that failed mid-stream (events/clickhouse/embedded.py)."""
    for _ in range(3):
        bad = {**STATS, "filters": [["matches", "event:page", ["(?<=a)b"]]]}
        _refused(api("POST", "/api/v2/query", json.dumps(bad).encode()), "RE2")
        answer = api("POST", "/api/v2/query", json.dumps(STATS).encode())
        assert answer.status == 200, answer.body
        assert json.loads(answer.body)["results"] == [{"metrics": [2], "dimensions": []}]


def test_a_goal_pattern_is_judged_by_the_engine_that_runs_it(site: Site, api: Send) -> None:
    """Goals are matched by name in Python: its `re` names the bad value."""
    body = {**STATS, "filters": [["matches", "event:goal", ["(unclosed"]]]}
    message = _refused(api("POST", "/api/v2/query", json.dumps(body).encode()))
    assert message.startswith("filters[0][2][0]: not a regular expression"), message


def test_what_re2_accepts_is_accepted(site: Site, api: Send) -> None:
    """Unicode classes and `\\z` are RE2 (Python's `re` refused them before)."""
    body = {**STATS, "filters": [["matches", "event:page", ["^/\\pL+\\z"]]]}
    answer = api("POST", "/api/v2/query", json.dumps(body).encode())
    assert answer.status == 200, answer.body
    assert json.loads(answer.body)["results"] == [{"metrics": [1], "dimensions": []}]


# ----------------------------------------------------------------------------------------
# The dashboard's filters (`f=dimension|operator|value`): every panel and download, as a
# member and anonymously through a shared link

FRAGMENTS = ("top", "chart", "spark", "funnels", *PANELS)
DOWNLOADS = (*(f"{name}?tab={next(iter(panel.tabs))}" for name, panel in PANELS.items()), "all")


def _urls(site: Site, base: str, auth: str, value: str) -> list[str]:
    query = f"period=7d&f=event:page|matches|{quote(value, safe='')}{auth}"
    return [
        *(f"{base}/panel/{name}?{query}" for name in FRAGMENTS),
        *(f"{base}/export/{name}{'&' if '?' in name else '?'}{query}" for name in DOWNLOADS),
    ]


@pytest.fixture(params=["member", "shared-link"])
def visitor(request: pytest.FixtureRequest, client: Any, site: Site) -> tuple[Any, str, str]:
    """A client, the dashboard's URL prefix and the `&auth=` it carries."""
    if request.param == "member":
        client.force_login(site.organization.memberships.get().user)
        return client, f"/sites/{site.domain}", ""
    link = services.shared_link_create(site=site, name="hostile")
    return client, f"/share/{site.domain}", f"&auth={link.slug}"


@pytest.mark.parametrize("pattern", BAD_PATTERNS)
def test_a_bad_pattern_in_a_dashboard_filter_is_400_with_a_message(
    site: Site, visitor: tuple[Any, str, str], pattern: str
) -> None:
    client, base, auth = visitor
    for url in _urls(site, base, auth, pattern):
        answer = client.get(url)
        assert answer.status_code == 400, (url, answer.status_code)
        text = answer.content.decode()
        assert "not a valid RE2 regular expression" in text, (url, text)
        assert "/panel/" not in url or 'role="alert"' in text


def test_the_dashboard_page_itself_shows_the_filter(
    site: Site, visitor: tuple[Any, str, str]
) -> None:
    client, base, auth = visitor
    page = f"{base}/" if not auth else base
    answer = client.get(f"{page}?period=7d&f=event:page|matches|%28unclosed{auth}")
    assert answer.status_code == 200  # its panels answer 400 with the reason


def test_a_broken_utf8_filter_in_a_url_is_no_500(site: Site, visitor: tuple[Any, str, str]) -> None:
    """A URL cannot carry a lone surrogate: its bytes decode to U+FFFD, a plain value."""
    client, base, auth = visitor
    for url in _urls(site, base, auth, "x"):
        answer = client.get(url.replace("|matches|x", "|is|%ED%A0%80"))
        assert answer.status_code == 200, url


def test_a_good_pattern_still_works_on_the_dashboard(
    site: Site, visitor: tuple[Any, str, str]
) -> None:
    client, base, auth = visitor
    answer = client.get(f"{base}/export/pages?tab=pages&period=7d&f=event:page|matches|^/p{auth}")
    assert answer.status_code == 200
    assert "/pricing" in answer.content.decode() and "\n/," not in answer.content.decode()
