"""Realistic synthetic traffic for the benchmarks: pages with power-law popularity, a mix
of real-world user agents and referrers, visitors from many public IP addresses.

Deterministic for a given seed, so runs compare.
"""

from __future__ import annotations

import ipaddress
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass

_BROWSERS = [
    # (weight, template); {v} is a major version
    (
        30,
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    ),
    (
        12,
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    ),
    (
        18,
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36",
    ),
    (
        14,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{m} Mobile/15E148 Safari/604.1",
    ),
    (
        6,
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{m} Safari/605.1.15",
    ),
    (6, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"),
    (2, "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"),
    (
        5,
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0",
    ),
    (
        3,
        "Mozilla/5.0 (iPad; CPU OS 17_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{m} Mobile/15E148 Safari/604.1",
    ),
    (
        2,
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/{s}.0 Chrome/{v}.0.0.0 Mobile Safari/537.36",
    ),
    (
        2,
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    ),
]
_REFERRERS = [
    (40, ""),
    (25, "https://www.google.com/"),
    (4, "https://www.bing.com/"),
    (3, "https://duckduckgo.com/"),
    (5, "https://t.co/abc123"),
    (4, "https://www.facebook.com/"),
    (2, "https://www.linkedin.com/"),
    (3, "https://news.ycombinator.com/"),
    (2, "https://www.reddit.com/r/programming/"),
    (1, "https://github.com/trail/trail"),
    (3, "https://blog.example.org/some-article"),
    (2, "https://mail.google.com/"),
]
_UTM = [
    (90, ""),
    (4, "?utm_source=newsletter&utm_medium=email&utm_campaign=november"),
    (3, "?utm_source=google&utm_medium=cpc&utm_campaign=brand&gclid=abc"),
    (3, "?utm_source=twitter&utm_medium=social"),
]
_CUSTOM = ["Signup", "Download", "Outbound Link: Click", "Purchase", "Form: Submission"]
_SCREENS = [390, 412, 768, 1280, 1366, 1440, 1536, 1920, 2560]


def _pick(rng: random.Random, weighted: list[tuple[int, str]]) -> str:
    return rng.choices([v for _, v in weighted], weights=[w for w, _ in weighted])[0]


@dataclass
class Traffic:
    domain: str
    seed: int = 7
    pages: int = 5000
    visitors: int = 200_000

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        self._rng = rng
        sections = ["blog", "docs", "pricing", "product", "about", "careers", "changelog"]
        self.paths = ["/"] + [
            f"/{rng.choice(sections)}/{'-'.join(rng.choice('abcdefghij') * 3 for _ in range(2))}-{n}"
            for n in range(self.pages - 1)
        ]
        # Zipf-like popularity: page i has weight 1 / (i + 1)
        self.page_weights = [1.0 / (i + 1) for i in range(len(self.paths))]
        self.user_agents = [
            template.format(v=rng.randint(118, 133), m=rng.randint(0, 6), s=rng.randint(22, 27))
            for weight, template in _BROWSERS
            for _ in range(weight * 4)
        ]

    def ip(self, visitor: int) -> str:
        # Spread over public space; skip reserved ranges deterministically.
        value = (visitor * 2654435761 + 0x2D000000) % (0xDF000000 - 0x01000000) + 0x01000000
        address = ipaddress.IPv4Address(value)
        return str(address) if address.is_global else f"81.2.{visitor % 250}.{visitor % 200 + 1}"

    def visit(self) -> Iterator[dict[str, object]]:
        """One visit: 1-20 events from one visitor (Plausible event body + ip + ua)."""
        rng = self._rng
        visitor = rng.randrange(self.visitors)
        ua = self.user_agents[visitor % len(self.user_agents)]
        referrer = _pick(rng, _REFERRERS)
        utm = _pick(rng, _UTM)
        width = _SCREENS[visitor % len(_SCREENS)]
        length = min(20, max(1, int(rng.paretovariate(1.2))))
        for step in range(length):
            path = rng.choices(self.paths, weights=self.page_weights)[0]
            body: dict[str, object] = {
                "n": "pageview",
                "u": f"https://{self.domain}{path}{utm if step == 0 else ''}",
                "d": self.domain,
                "r": referrer if step == 0 else f"https://{self.domain}/",
                "w": width,
            }
            if step and rng.random() < 0.08:
                body["n"] = rng.choice(_CUSTOM)
                body["p"] = {"plan": rng.choice(["free", "pro", "team"])}
            yield {"body": body, "ip": self.ip(visitor), "ua": ua}

    def events(self, count: int) -> Iterator[dict[str, object]]:
        made = 0
        while made < count:
            for event in self.visit():
                yield event
                made += 1
                if made == count:
                    return

    def body_lines(self, count: int) -> list[str]:
        """`UA<TAB>JSON body` lines for bench/loadgen (its --body-file)."""
        return [
            f"{e['ua']}\t{json.dumps(e['body'], separators=(',', ':'))}" for e in self.events(count)
        ]


def spool_records(traffic: Traffic, count: int, *, site_id: int) -> list[dict[str, object]]:
    """`count` events as the edge writes them to the spool (received now)."""
    import datetime as dt

    from events.ingest.request import from_plausible
    from events.record import to_record

    now = dt.datetime.now(dt.UTC)
    return [
        to_record(
            from_plausible(e["body"]),
            site_id=site_id,
            ip=str(e["ip"]),
            user_agent=str(e["ua"]),
            received_at=now,
        )
        for e in traffic.events(count)
    ]
