"""`GET /api/v1/sites/{domain}/funnels/{id}/query`: a saved funnel computed on real chDB
gives the answer of the funnel query for the same steps; bad range named; scope, tenancy."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest
from django.test import Client

from accounts.models import Scope
from sites import services
from sites.models import Site
from tests import factories

pytestmark = pytest.mark.django_db

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def test_a_saved_funnel_answers_as_the_funnel_query(
    make_site: Callable[..., Site], seed: Callable[..., None]
) -> None:
    site = make_site("funnel-api.example.com")
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=30)
    events = []
    for n, steps in enumerate([("/pricing", "Signup"), ("/pricing", None), ("/blog", None)]):
        ip = f"203.0.113.{n + 1}"
        page, event = steps
        base = {"domain": site.domain, "ip": ip, "user_agent": UA}
        events.append(
            {
                **base,
                "name": "pageview",
                "url": f"https://{site.domain}{page}",
                "timestamp": start.isoformat(),
            }
        )
        if event:
            later = (start + dt.timedelta(minutes=1)).isoformat()
            events.append(
                {**base, "name": event, "url": f"https://{site.domain}/", "timestamp": later}
            )
    seed(site, events)
    funnel = services.funnel_create(
        site=site,
        name="Pricing to signup",
        steps=[{"type": "page", "value": "/pricing"}, {"type": "event", "value": "Signup"}],
        window=1800,
    )
    _, raw = factories.api_key(site.organization, scopes=(Scope.STATS_READ,))
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    path = f"/api/v1/sites/{site.domain}/funnels/{funnel.pk}/query"
    saved = api.get(path, {"date_range": "7d"})
    assert saved.status_code == 200, saved.content
    assert [step["visitors"] for step in saved.json()["steps"]] == [2, 1]
    posted = api.post(
        "/api/v1/funnels/query",
        data=json.dumps(
            {
                "site_id": site.domain,
                "date_range": "7d",
                "window": 1800,
                "steps": [
                    {"type": "page", "pattern": "/pricing"},
                    {"type": "event", "name": "Signup"},
                ],
            }
        ),
        content_type="application/json",
    )
    assert saved.json() == posted.json()

    bad = api.get(path, {"date_range": "fortnight"})
    assert bad.status_code == 400 and bad.json()["error"].startswith("date_range")
    assert api.get(f"/api/v1/sites/{site.domain}/funnels/999999/query").status_code == 404
    _, sites_only = factories.api_key(site.organization, scopes=(Scope.SITES_MANAGE,))
    assert Client(HTTP_AUTHORIZATION=f"Bearer {sites_only}").get(path).status_code == 403
    _, stranger = factories.api_key(factories.organization(), scopes=(Scope.STATS_READ,))
    outsider = Client(HTTP_AUTHORIZATION=f"Bearer {stranger}")
    theirs = outsider.get(path)
    made_up = outsider.get(f"/api/v1/sites/nope.example.com/funnels/{funnel.pk}/query")
    assert (theirs.status_code, theirs.content) == (404, made_up.content)
