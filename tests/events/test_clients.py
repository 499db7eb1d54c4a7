"""User agents and screens become browser, OS, device and size class, in Plausible's
words, fast."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import pytest

from events.enrich.clients import ClientInfo, client_info, screen_size
from sites.models import Site
from tests import factories
from tests.reports.conftest import hit, post_json

EDGE_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86"
)
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36"
)

# Real user agents, and what Plausible shows for them.
AGENTS = {
    "Chrome, Windows": (
        CHROME_WINDOWS,
        ClientInfo("Chrome", "131.0", "Windows", "10", "Desktop"),
    ),
    "Edge, Windows": (
        EDGE_WINDOWS,
        ClientInfo("Microsoft Edge", "131.0", "Windows", "10", "Desktop"),
    ),
    "Edge, Android": (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.0.0",
        ClientInfo("Microsoft Edge", "131.0", "Android", "10", "Mobile"),
    ),
    "Safari, macOS": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like"
        " Gecko) Version/17.4.1 Safari/605.1.15",
        ClientInfo("Safari", "17.4", "Mac", "10.15", "Desktop"),
    ),
    "Firefox, macOS": (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0",
        ClientInfo("Firefox", "128.0", "Mac", "14.5", "Desktop"),
    ),
    "Mobile Safari, iPhone": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML,"
        " like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        ClientInfo("Safari", "17.5", "iOS", "17.5", "Mobile"),
    ),
    "Safari, iPad on iPadOS 17": (
        "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like"
        " Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        ClientInfo("Safari", "17.4", "iPadOS", "17.4", "Tablet"),
    ),
    "Safari, iPad on iOS 12": (
        "Mozilla/5.0 (iPad; CPU OS 12_5_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like"
        " Gecko) Version/12.1.2 Mobile/15E148 Safari/604.1",
        ClientInfo("Safari", "12.1", "iOS", "12.5", "Tablet"),
    ),
    "Chrome, Android phone": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/131.0.0.0 Mobile Safari/537.36",
        ClientInfo("Chrome", "131.0", "Android", "14", "Mobile"),
    ),
    "Chrome, Android tablet": (
        "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/131.0.0.0 Safari/537.36",
        ClientInfo("Chrome", "131.0", "Android", "13", "Tablet"),
    ),
    "Chrome, iOS (CriOS)": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML,"
        " like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
        ClientInfo("Chrome", "131.0", "iOS", "17.5", "Mobile"),
    ),
    "Android WebView": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240805.005; wv) AppleWebKit/537.36"
        " (KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.81 Mobile Safari/537.36",
        ClientInfo("Mobile App", "", "Android", "14", "Mobile"),
    ),
    "Facebook's browser, iPhone": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML,"
        " like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/478.0.0.40.107;FBBV/630063418;"
        "FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.5;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]",
        ClientInfo("Mobile App", "", "iOS", "17.5", "Mobile"),
    ),
    "Firefox, Linux": (
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        ClientInfo("Firefox", "133.0", "GNU/Linux", "", "Desktop"),
    ),
    "Firefox, Ubuntu": (
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        ClientInfo("Firefox", "133.0", "Ubuntu", "", "Desktop"),
    ),
    "Firefox, FreeBSD": (
        "Mozilla/5.0 (X11; FreeBSD amd64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ClientInfo("Firefox", "128.0", "FreeBSD", "", "Desktop"),
    ),
    "Firefox, Android": (
        "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
        ClientInfo("Firefox", "133.0", "Android", "14", "Mobile"),
    ),
    "Firefox, iOS (FxiOS)": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML,"
        " like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15",
        ClientInfo("Firefox", "133.0", "iOS", "17.5", "Mobile"),
    ),
    "Samsung Internet": (
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko)"
        " SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
        ClientInfo("Samsung Browser", "26.0", "Android", "14", "Mobile"),
    ),
    "Opera, Windows": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
        ClientInfo("Opera", "115.0", "Windows", "10", "Desktop"),
    ),
    "Opera Mobile": (
        "Mozilla/5.0 (Linux; Android 10; VOG-L29) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/130.0.0.0 Mobile Safari/537.36 OPR/86.0.0.0",
        ClientInfo("Opera", "86.0", "Android", "10", "Mobile"),
    ),
    "Opera Mini": (
        "Opera/9.80 (Android; Opera Mini/36.2.2254/119.132; U; id) Presto/2.12.423 Version/12.16",
        ClientInfo("Opera", "36.2", "Android", "", "Mobile"),
    ),
    "Yandex, Windows": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/128.0.0.0 YaBrowser/24.10.0.0 Safari/537.36",
        ClientInfo("Yandex Browser", "24.10", "Windows", "10", "Desktop"),
    ),
    "Chrome, ChromeOS": (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/131.0.0.0 Safari/537.36",
        ClientInfo("Chrome", "131.0", "Chrome OS", "14541.0", "Desktop"),
    ),
    "UC Browser": (
        "Mozilla/5.0 (Linux; U; Android 10; en-US; RMX1911 Build/QKQ1.200209.002)"
        " AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/78.0.3904.108"
        " UCBrowser/13.4.0.1306 Mobile Safari/537.36",
        ClientInfo("UC Browser", "13.4", "Android", "10", "Mobile"),
    ),
    "DuckDuckGo, Android": (
        "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0"
        " Chrome/131.0.0.0 Mobile DuckDuckGo/5 Safari/537.36",
        ClientInfo("DuckDuckGo Privacy Browser", "5", "Android", "14", "Mobile"),
    ),
    "Vivaldi": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
        " Chrome/130.0.0.0 Safari/537.36 Vivaldi/7.0.3495.18",
        ClientInfo("Vivaldi", "7.0", "Windows", "10", "Desktop"),
    ),
    "Internet Explorer 11": (
        "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
        ClientInfo("Internet Explorer", "11.0", "Windows", "10", "Desktop"),
    ),
    "a smart TV (no device type)": (
        "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko)"
        " 76.0.3809.146/6.0 TV Safari/537.36",
        ClientInfo("Safari", "", "Tizen", "6.0", ""),
    ),
    "not a user agent": ("something odd", ClientInfo("", "", "", "", "")),
    "empty": ("", ClientInfo("", "", "", "", "")),
}


@pytest.mark.parametrize(("user_agent", "expected"), AGENTS.values(), ids=AGENTS.keys())
def test_client_info_speaks_plausibles_labels(user_agent: str, expected: ClientInfo) -> None:
    assert client_info(user_agent) == expected


def test_repeated_user_agents_cost_a_lookup() -> None:
    agent = "Mozilla/5.0 (X11; Linux x86_64; rv:129.0) Gecko/20100101 Firefox/129.0"
    client_info(agent)
    start = time.perf_counter()
    for _ in range(10_000):
        client_info(agent)
    assert (time.perf_counter() - start) / 10_000 < 5e-6


@pytest.mark.parametrize(
    ("width", "size"),
    [(None, ""), (0, ""), (390, "Mobile"), (800, "Tablet"), (1280, "Laptop"), (1920, "Desktop")],
)
def test_screen_size(width: int | None, size: str) -> None:
    assert screen_size(width) == size


@pytest.mark.django_db
def test_stats_api_filters_on_plausibles_browser_name(
    client: Any,
    make_site: Callable[..., Site],
    seed: Callable[[Site, list[dict[str, Any]]], None],
) -> None:
    """An Edge visit, sent through the batch API, spool and flush, is found by the filter a
    Plausible client sends, and is named the same way in the breakdown."""
    site = make_site("labels-trail.com")
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    seed(
        site,
        [
            hit(site, noon, "/", ip="192.0.2.10", user_agent=EDGE_WINDOWS),
            hit(site, noon, "/about", ip="192.0.2.11", user_agent=CHROME_WINDOWS),
        ],
    )
    _, key = factories.api_key(site.organization, scopes=("stats:read",))
    body = {
        "site_id": site.domain,
        "metrics": ["visitors"],
        "date_range": [day.isoformat(), day.isoformat()],
        "dimensions": ["visit:browser", "visit:os"],
        "filters": [["is", "visit:browser", ["Microsoft Edge"]]],
    }
    answer = post_json(client, "/api/v2/query", body, key)
    assert answer.status_code == 200, answer.content
    assert answer.json()["results"] == [
        {"dimensions": ["Microsoft Edge", "Windows"], "metrics": [1]}
    ]
    body["filters"] = [["is", "visit:browser", ["Edge"]]]  # ua-parser's word finds nothing
    assert post_json(client, "/api/v2/query", body, key).json()["results"] == []
