"""Tried as a Plausible user would: a shell script written for Plausible's Stats API v1
(curl, a token, a site id) runs against a live Trail with only its base URL changed."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Callable
from typing import Any

from sites.models import Site
from tests import factories
from tests.reports.conftest import CHROME_ANDROID, FIREFOX, hit

SCRIPT = r"""#!/bin/sh
# Weekly numbers from Plausible's Stats API v1. Set PLAUSIBLE_URL, PLAUSIBLE_TOKEN, SITE_ID.
set -eu
api() {
  curl -fsS -H "Authorization: Bearer $PLAUSIBLE_TOKEN" \
    "$PLAUSIBLE_URL/api/v1/stats/$1?site_id=$SITE_ID&$2"
  echo
}
api realtime/visitors ""
api aggregate "period=7d&metrics=visitors,pageviews,bounce_rate"
api breakdown "period=7d&property=event:page&limit=5"
api timeseries "period=7d&filters=event:page%3D%3D%2Fpricing"
"""


def test_a_plausible_v1_script_runs_with_only_the_base_url_changed(
    live_server: Any,
    transactional_db: None,
    make_site: Callable[..., Site],
    seed: Callable[[Site, list[dict[str, Any]]], None],
    tmp_path: Any,
) -> None:
    site = make_site("v1-script-trail.com")
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
    at = dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC)
    a = {"ip": "198.51.100.1", "user_agent": FIREFOX}
    b = {"ip": "198.51.100.2", "user_agent": CHROME_ANDROID}
    events = [
        hit(site, at, "/", **a),
        hit(site, at + dt.timedelta(minutes=1), "/pricing", **a),
        hit(site, at + dt.timedelta(minutes=5), "/pricing", **b),
    ]
    seed(site, events)
    _, token = factories.api_key(site.organization, scopes=("stats:read",))
    script = tmp_path / "weekly.sh"
    script.write_text(SCRIPT)
    run = subprocess.run(  # noqa: S603 (our own script, our own arguments)
        ["/bin/sh", str(script)],  # noqa: S607
        env={
            "PATH": "/usr/bin:/bin",
            "PLAUSIBLE_URL": str(live_server.url),
            "PLAUSIBLE_TOKEN": token,
            "SITE_ID": site.domain,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    now, aggregate, pages, series = (json.loads(line) for line in run.stdout.splitlines())
    pageviews = [e for e in events if e["name"] == "pageview"]
    visitors = {(e["ip"], e["user_agent"]) for e in events}
    bounces = 1  # b's visit is one pageview; a's two
    assert now == 0
    assert aggregate == {
        "results": {
            "visitors": {"value": len(visitors)},
            "pageviews": {"value": len(pageviews)},
            "bounce_rate": {"value": round(100 * bounces / len(visitors))},
        }
    }
    assert pages == {
        "results": [
            {"page": "/pricing", "visitors": 2},
            {"page": "/", "visitors": 1},
        ]
    }
    assert len(series["results"]) == 7
    assert {row["date"]: row["visitors"] for row in series["results"]}[day.isoformat()] == 2
