"""Synthetic data for the reports benchmark: one site's `events` and `sessions`, written
straight into ClickHouse, consistent as the collector would have written them.

    .venv/bin/python bench/report_data.py --var DIR --events 10000000
        [--days 30] [--seed 1] [--site-domain bench.example.com]

Creates (or reuses) an organization, the site (Europe/Berlin) and two goals (event
"Signup", pageview "/pricing*") in DIR's accounts database, then generates inside
ClickHouse, one UTC day at a time, with `INSERT … SELECT` and hash-based pseudo-random
numbers (deterministic for a seed and day; only event ids are random). The event count
lands within 0.1 % of --events. A var dir whose site already holds about the requested
count (±1 %) is reused as it is; another count is deleted and generated again. Merges are
paused while generating; then every partition is merged into one part (`OPTIMIZE …
FINAL`, one partition per core), so a benchmark does not race background merges. Sanity
figures are printed at the end.

The model:
- People. Each day has its own set of people (Trail's visitor hash changes with the daily
  salt, so nobody is the same visitor on two days); a person makes 1 visit (85 %), 2 (12 %)
  or 3 (3 %), 2–6 hours apart, all on that day. `visitor_id` is a 64-bit hash of (seed,
  day, person), uniform as the table's SAMPLE BY needs. Device and location are the
  person's; the source is the visit's. Daily volume follows the weekday (weekends ~70 %)
  and a slow growth; start times follow a diurnal curve (UTC, busiest 12–17 h). Today
  ends two hours before now, so no event lies in the future.
- Visits. 1–20 actions, a power law truncated at 20: P(length >= n) = (1/n - 1/21) /
  (1 - 1/21), so 52.5 % of visits are one pageview (bounces) and the mean is 2.8 actions.
  The first action is the entry pageview; each later one is a pageview, or with 3 % a
  "Signup" (props plan=free|pro), 0.5 % a "Purchase" (plan, revenue in EUR), 4.5 % an
  "Outbound Link: Click" (props url), on the current page. Pageviews are 3–240 s apart,
  custom events 1–31 s after the previous action. Half the pageviews are followed by an
  `engagement` event (not interactive, scroll depth, engaged ms) when the page is left;
  engagement events count in no visit figure.
- Pages. 5,000 paths with Zipf popularity (rank r has weight ~1/(r+1)): a few fixed
  pages first ("/", "/pricing", "/docs", …), then /blog/post-N, /docs/guides/N, ….
- Clients, sources, places. The user agents of bench/synthetic.py are parsed by Trail's
  own parser (events.enrich.clients) at start; its referrers, plus coherent UTM campaigns,
  are attributed by Trail's own events.enrich.referrers.attribute(); ~30 real
  (country, region, city) places. These small weighted tables are bound as parameters and
  picked in SQL by hash.
- Referrer fields on events: as enrichment sets them. The events on the landing page (the
  entry pageview, its custom and engagement events) carry the visit's referrer, source,
  channel, UTM tags and click id; later pages were reached from the site itself, whose
  referrer `attribute()` treats as internal: referrer, source and UTM tags empty, channel
  "Direct". The `sessions` row carries the visit's (its first event's).
- `sessions`: one row per visit, sign = 1, version = 1 (its final state); timestamp = the
  last non-engagement event's, duration = whole seconds between start and it, exit page =
  the last pageview's, is_bounce = interactive events <= 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import _setup

PAGES = 5_000
TIMEZONE = "Europe/Berlin"
MAX_GAP_MS = 240_000  # between pageviews: a visit spans at most 19 × 4 min + the last page
FIXED_PAGES = [
    "/",
    "/pricing",
    "/docs",
    "/blog",
    "/features",
    "/docs/getting-started",
    "/signup",
    "/about",
    "/login",
    "/changelog",
    "/integrations",
    "/pricing/enterprise",
    "/docs/api",
    "/contact",
    "/security",
    "/careers",
]
SECTIONS = [
    "/blog/post-",
    "/blog/post-",
    "/blog/post-",
    "/docs/guides/",
    "/docs/reference/",
    "/docs/api/endpoint-",
    "/changelog/release-",
    "/integrations/app-",
    "/customers/story-",
    "/features/",
]
# (weight, utm query, referrer) of campaign traffic, next to synthetic.py's plain referrers
CAMPAIGNS = [
    (30, "utm_source=newsletter&utm_medium=email&utm_campaign=november", ""),
    (15, "utm_source=newsletter&utm_medium=email&utm_campaign=product-launch", ""),
    (
        30,
        "utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=web+analytics&gclid=x",
        "https://www.google.com/",
    ),
    (15, "utm_source=twitter&utm_medium=social&utm_campaign=launch", "https://t.co/xyz"),
    (
        10,
        "utm_source=linkedin&utm_medium=paid_social&utm_campaign=q4&utm_content=carousel",
        "https://www.linkedin.com/",
    ),
]
CAMPAIGN_SHARE = 0.12  # of visits; the rest come with bench/synthetic.py's referrer mix
PLACES = [  # (weight, country, region, city) by English name, as DB-IP gives them
    (14, "US", "California", "San Francisco"),
    (8, "US", "New York", "New York"),
    (5, "US", "Texas", "Austin"),
    (4, "US", "Washington", "Seattle"),
    (3, "US", "Illinois", "Chicago"),
    (10, "DE", "Berlin", "Berlin"),
    (5, "DE", "Bavaria", "Munich"),
    (3, "DE", "Hamburg", "Hamburg"),
    (8, "GB", "England", "London"),
    (2, "GB", "Scotland", "Edinburgh"),
    (5, "FR", "Île-de-France", "Paris"),
    (4, "NL", "North Holland", "Amsterdam"),
    (5, "IN", "Karnataka", "Bengaluru"),
    (3, "IN", "Maharashtra", "Mumbai"),
    (3, "CA", "Ontario", "Toronto"),
    (2, "CA", "British Columbia", "Vancouver"),
    (3, "BR", "São Paulo", "São Paulo"),
    (2, "JP", "Tokyo", "Tokyo"),
    (2, "AU", "New South Wales", "Sydney"),
    (2, "ES", "Madrid", "Madrid"),
    (2, "IT", "Lombardy", "Milan"),
    (2, "PL", "Mazovia", "Warsaw"),
    (1, "SE", "Stockholm", "Stockholm"),
    (1, "CH", "Zurich", "Zurich"),
    (1, "AT", "Vienna", "Vienna"),
    (1, "SG", "Singapore", "Singapore"),
    (1, "KR", "Seoul", "Seoul"),
    (1, "MX", "Mexico City", "Mexico City"),
    (1, "UA", "Kyiv City", "Kyiv"),
    (1, "ZA", "Gauteng", "Johannesburg"),
    (2, "", "", ""),  # not found in the GeoIP database
]
OUTBOUND_URLS = [
    "https://github.com/trail/trail",
    "https://twitter.com/trail",
    "https://www.youtube.com/watch?v=demo",
    "https://docs.python.org/3/",
    "https://news.ycombinator.com/item?id=1",
]
HOURS = [2, 1, 1, 1, 1, 2, 3, 5, 7, 8, 9, 10, 11, 12, 12, 12, 12, 11, 9, 8, 7, 5, 4, 3]  # UTC
WEEKDAY = [1.0, 1.05, 1.05, 1.0, 0.9, 0.65, 0.7]  # Monday first
SCREENS = {"Mobile": [390, 412], "Tablet": [768, 820], "Desktop": [1280, 1366, 1536, 1920, 2560]}

VISITS = "bench_report_visits"  # per-day scratch table (Memory), dropped at the end

# --- the small weighted tables, computed by Trail's own enrichment ----------------------


def _weighted(rows: Counter[tuple[str, ...]]) -> tuple[list[tuple[str, ...]], list[int]]:
    """Distinct rows, and ~1,000 slots (1-based indices) in proportion to their weights."""
    items = sorted(rows.items(), key=lambda item: -item[1])
    total = sum(rows.values())
    slots = [i for i, (_, w) in enumerate(items, 1) for _ in range(max(1, round(w / total * 1000)))]
    return [row for row, _ in items], slots


def device_table(domain: str, seed: int) -> Counter[tuple[str, ...]]:
    """(browser, version, OS, version, device, screen size) of synthetic.py's user agents."""
    from synthetic import Traffic

    from events.enrich.clients import client_info, screen_size

    combos: Counter[tuple[str, ...]] = Counter()
    for agent in Traffic(domain, seed=seed).user_agents:  # repeated by weight
        info = client_info(agent)
        widths = SCREENS.get(info.device, SCREENS["Desktop"])
        for width in widths:
            combos[
                (
                    info.browser,
                    info.browser_version,
                    info.os,
                    info.os_version,
                    info.device,
                    screen_size(width),
                )
            ] += 60 // len(widths)
    return combos


def source_table(domain: str) -> Counter[tuple[str, ...]]:
    """(referrer, source, channel, utm medium, source, campaign, content, term, click id)."""
    from synthetic import _REFERRERS

    from events.enrich.referrers import attribute
    from events.enrich.urls import parse_page_url

    plain = sum(w for w, _ in _REFERRERS) / (1 - CAMPAIGN_SHARE)
    campaigns = sum(w for w, _, _ in CAMPAIGNS)
    visits = [(w / plain, "", r) for w, r in _REFERRERS]
    visits += [(w / campaigns * CAMPAIGN_SHARE, q, r) for w, q, r in CAMPAIGNS]
    combos: Counter[tuple[str, ...]] = Counter()
    for weight, query, referrer in visits:
        page = parse_page_url(f"https://{domain}/?{query}")
        source = attribute(
            referrer=referrer,
            page_host=page.hostname,
            utm_source=page.utm_source,
            utm_medium=page.utm_medium,
            utm_campaign=page.utm_campaign,
            click_id_param=page.click_id_param,
        )
        row = (source.referrer, source.source, source.channel)
        utm = (page.utm_medium, page.utm_source, page.utm_campaign, page.utm_content)
        combos[(*row, *utm, page.utm_term, page.click_id_param)] += round(weight * 10_000)
    return combos


def lookup_params(domain: str, seed: int) -> dict[str, Any]:
    devices, device_slots = _weighted(device_table(domain, seed))
    sources, source_slots = _weighted(source_table(domain))
    places, place_slots = _weighted(Counter({p[1:]: p[0] for p in PLACES}))
    return {
        "devices": devices,
        "device_slots": device_slots,
        "sources": sources,
        "source_slots": source_slots,
        "places": places,
        "place_slots": place_slots,
        "pages": FIXED_PAGES,
        "sections": SECTIONS,
        "outbound": OUTBOUND_URLS,
        "domain": domain,
    }


# --- SQL ---------------------------------------------------------------------------------


def _u(*keys: str) -> str:
    """A uniform pseudo-random Float64 in [0, 1) from a hash of `keys` (SQL expressions)."""
    return f"(cityHash64({', '.join(keys)}) / 18446744073709551616.0)"


def _pick(table: str, key: str) -> str:
    """The weighted row of `table` (a bound array parameter) chosen by hash of `key`."""
    slots = f"{{{table[:-1]}_slots:Array(UInt16)}}"
    return f"{slots}[1 + cityHash64({key}, '{table}') % length({slots})]"


def _path(rank: str) -> str:
    return (
        f"if({rank} < length({{pages:Array(String)}}), {{pages:Array(String)}}[{rank} + 1],"
        f" concat({{sections:Array(String)}}[1 + {rank} % length({{sections:Array(String)}})],"
        f" toString({rank})))"
    )


S9 = "Tuple(" + ", ".join(["String"] * 9) + ")"
S6 = "Tuple(" + ", ".join(["String"] * 6) + ")"
S3 = "Tuple(String, String, String)"

CREATE_VISITS = f"""
CREATE TABLE IF NOT EXISTS {VISITS} (
    session_id UInt64, visitor_id UInt64, start DateTime64(3, 'UTC'),
    device UInt16, place UInt16, source UInt16,
    kinds Array(UInt8),      -- per action: 0 pageview, 1 Signup, 2 Purchase, 3 Outbound
    offsets Array(UInt64),   -- ms after start
    ranks Array(UInt32),     -- page rank (custom events: the current page's)
    engaged Array(UInt8),    -- the pageview is followed by an engagement event
    leave Array(UInt64)      -- ms after start when the action's page was left
) ENGINE = Memory
"""

# One day's visits. `people` people; `hours` are hour-of-day slots for the first visit's
# start; visits starting after `limit_ms` (ms into the day) are dropped.
GENERATE_VISITS = f"""
INSERT INTO {VISITS}
SELECT session_id, visitor_id, start, device, place, source, kinds, offsets, ranks, engaged, leave
FROM (
SELECT
    bitShiftRight(cityHash64(vh, 'session'), 1) AS session_id,
    visitor_id,
    toDateTime64({{day:Date}}, 3, 'UTC') + toIntervalMillisecond(start_ms) AS start,
    device, place,
    {_pick("sources", "vh")} AS source,
    toUInt8(floor(1 / (1 - {_u("vh", "'length'")} * 20 / 21))) AS actions,
    arrayMap(
        x -> toUInt8(multiIf(x < 0.03, 1, x < 0.035, 2, x < 0.08, 3, 0)),
        arrayMap(k -> if(k = 0, 1.0, {_u("vh", "'kind'", "k")}), range(actions))
    ) AS kinds,
    arrayCumSum(arrayMap(
        (k, kind) -> toUInt64(multiIf(
            k = 0, 0,
            kind = 0,
            3000 + least({MAX_GAP_MS - 3000},
                         -log(greatest({_u("vh", "'gap'", "k")}, 1e-12)) * 45000),
            1000 + cityHash64(vh, 'gap', k) % 30000)),
        range(actions), kinds
    )) AS offsets,
    arrayFill(
        (rank, kind) -> kind = 0,
        arrayMap(
            k -> toUInt32(least({PAGES - 1}, floor(exp({_u("vh", "'page'", "k")} * log({PAGES + 1}))) - 1)),
            range(actions)
        ),
        kinds
    ) AS ranks,
    arrayMap((k, kind) -> toUInt8(kind = 0 AND {_u("vh", "'engaged'", "k")} < 0.5),
             range(actions), kinds) AS engaged,
    arrayPushBack(
        arrayMap(x -> toUInt64(x - 100), arrayPopFront(offsets)),
        offsets[-1] + 2000 + cityHash64(vh, 'tail') % 120000
    ) AS leave
FROM (
    SELECT *, cityHash64(ph, j) AS vh, first_ms + j * apart_ms AS start_ms
    FROM (
    SELECT
        cityHash64({{seed:UInt64}}, {{day:Date}}, number) AS ph,
        cityHash64(ph, 'visitor') AS visitor_id,
        {_pick("devices", "ph")} AS device,
        {_pick("places", "ph")} AS place,
        1 + (ph % 100 < 15) + (ph % 100 < 3) AS visits,
        {{hours:Array(UInt8)}}[1 + cityHash64(ph, 'hour') % length({{hours:Array(UInt8)}})]
            * 3600000 + cityHash64(ph, 'ms') % 3600000 AS first_ms,
        (7200 + cityHash64(ph, 'apart') % 14400) * 1000 AS apart_ms
    FROM numbers_mt({{first:UInt64}}, {{people:UInt64}})
    )
    ARRAY JOIN range(visits) AS j
    WHERE start_ms <= {{limit_ms:UInt64}}
)
)
"""  # noqa: S608 (module constants; values are bound)

# Trail's referrer fields of an event on the landing page (pv = 1) or a later one.
_SOURCE = {
    "referrer": "src.1",
    "referrer_source": "src.2",
    "channel": "src.3",
    "utm_medium": "src.4",
    "utm_source": "src.5",
    "utm_campaign": "src.6",
    "utm_content": "src.7",
    "utm_term": "src.8",
    "click_id_param": "src.9",
}
_VISIT_COLUMNS = {
    "country_code": "place_row.1",
    "region": "place_row.2",
    "city": "place_row.3",
    "browser": "dev.1",
    "browser_version": "dev.2",
    "os": "dev.3",
    "os_version": "dev.4",
    "device": "dev.5",
    "screen_size": "dev.6",
}
_LOOKUPS = f"""
    {{sources:Array({S9})}}[source] AS src,
    {{places:Array({S3})}}[place] AS place_row,
    {{devices:Array({S6})}}[device] AS dev"""


def _select(columns: dict[str, str]) -> tuple[str, str]:
    return ", ".join(columns), ",\n    ".join(f"{sql} AS {name}_" for name, sql in columns.items())


def _events_sql() -> str:
    later = {name: "'Direct'" if name == "channel" else "''" for name in _SOURCE}
    columns = {
        "site_id": "{site:UInt64}",
        "event_id": "generateUUIDv4()",
        "timestamp": "start + toIntervalMillisecond(if(e, leave[i], offsets[i]))",
        "name": "if(e, 'engagement', ['pageview', 'Signup', 'Purchase', 'Outbound Link: Click'][kind + 1])",
        "visitor_id": "visitor_id",
        "session_id": "session_id",
        "hostname": "{domain:String}",
        "pathname": _path("ranks[i]"),
        **{n: f"if(pv = 1, {sql}, {later[n]})" for n, sql in _SOURCE.items()},
        **_VISIT_COLUMNS,
        "props": (
            "mapFromArrays(multiIf(e OR kind = 0, [], kind = 3, ['url'], ['plan']),"
            " multiIf(e OR kind = 0, [], kind = 3, [{outbound:Array(String)}[1 + r % length({outbound:Array(String)})]],"
            " kind = 2, [if(r % 3 = 0, 'team', 'pro')], [if(r % 4 = 0, 'pro', 'free')]))"
        ),
        "revenue_amount": "if(kind = 2 AND NOT e, toDecimal64([9, 29, 49, 99, 299][1 + r % 5], 3), NULL)",
        "revenue_currency": "if(kind = 2 AND NOT e, 'EUR', '')",
        "interactive": "NOT e",
        "scroll_depth": "if(e, toUInt8(100 * sqrt((r % 1001) / 1000)), 0)",
        "engagement_ms": "if(e, toUInt32((leave[i] - offsets[i]) * (0.3 + 0.7 * (r % 1000) / 1000)), 0)",
    }
    names, values = _select(columns)
    return f"""
INSERT INTO events ({names})
SELECT
    {values}
FROM (
    SELECT *, row.1 AS i, row.2 AS e, kinds[i] AS kind,
        arrayCumSum(arrayMap(k -> k = 0, kinds))[i] AS pv,
        cityHash64(session_id, i, 'props') AS r,
        {_LOOKUPS}
    FROM {VISITS}
    ARRAY JOIN arrayConcat(
        arrayMap(k -> (k, false), arrayEnumerate(kinds)),
        arrayMap(k -> (k, true), arrayFilter((k, x) -> x = 1, arrayEnumerate(kinds), engaged))
    ) AS row
)
"""  # noqa: S608 (module constants; values are bound)


def _sessions_sql() -> str:
    columns = {
        "site_id": "{site:UInt64}",
        "session_id": "session_id",
        "visitor_id": "visitor_id",
        "sign": "1",
        "version": "1",
        "start": "start",
        "timestamp": "start + toIntervalMillisecond(offsets[-1])",
        "hostname": "{domain:String}",
        "entry_page": _path("ranks[1]"),
        "exit_page": _path("ranks[-1]"),  # custom events carry the current page's rank
        "pageviews": "countEqual(kinds, 0)",
        "events": "length(kinds)",
        "interactive_events": "length(kinds)",
        "is_bounce": "length(kinds) <= 1",
        "duration": "intDiv(offsets[-1], 1000)",
        **_SOURCE,
        **_VISIT_COLUMNS,
    }
    names, values = _select(columns)
    return f"""
INSERT INTO sessions ({names})
SELECT
    {values}
FROM (SELECT *, {_LOOKUPS} FROM {VISITS})
SETTINGS optimize_on_insert = 0  -- nothing to collapse, and 3x faster
"""  # noqa: S608 (module constants; values are bound)


INSERT_EVENTS = _events_sql()
INSERT_SESSIONS = _sessions_sql()

# --- the plan: days, their weights and hours --------------------------------------------


def day_plan(days: int, now: dt.datetime) -> list[tuple[dt.date, float, list[int], int]]:
    """(day, weight, hour slots, limit in ms into the day) for each generated UTC day."""
    today = now.date()
    cutoff = now - dt.timedelta(hours=2)  # a visit lasts < 2 h: no event after now
    plan = []
    for index in range(days):
        day = today - dt.timedelta(days=days - 1 - index)
        midnight = dt.datetime.combine(day, dt.time(), dt.UTC)
        limit_ms = min(86_400_000 - 1, int((cutoff - midnight).total_seconds() * 1000))
        hours = [h for h in range(24) if (h + 1) * 3_600_000 <= limit_ms + 1]
        if not hours:
            continue
        share = sum(HOURS[h] for h in hours) / sum(HOURS)
        weight = WEEKDAY[day.weekday()] * (1 + 0.01 * index) * share
        slots = [h for h in hours for _ in range(HOURS[h])]
        plan.append((day, weight, slots, limit_ms))
    return plan


# --- running it --------------------------------------------------------------------------


def ensure_site(domain: str) -> Any:
    from accounts.models import Organization
    from sites.models import Goal, Site
    from sites.services import goal_create, site_create

    site = Site.objects.filter(domain=domain, deleted_at__isnull=True).first()
    if site is None:
        organization, _ = Organization.objects.get_or_create(name="Reports benchmark")
        site = site_create(organization=organization, domain=domain, timezone_name=TIMEZONE)
    for kind, value in ((Goal.Kind.EVENT, "Signup"), (Goal.Kind.PAGEVIEW, "/pricing*")):
        if not Goal.objects.filter(site=site, kind=kind, value=value).exists():
            goal_create(site=site, kind=kind, value=value)
    return site


def count_events(client: Any, site_id: int) -> int:
    rows = client.query(
        "SELECT count() AS n FROM events WHERE site_id = {s:UInt64}", {"s": site_id}
    )
    return int(rows[0]["n"])


def _batch(client: Any, step: dict[str, Any], *, store: bool = True) -> int:
    """Generate one batch of people's visits; write them unless `store` is false; their
    events (rows of `events`)."""
    client.command(f"TRUNCATE TABLE {VISITS}")
    client.command(GENERATE_VISITS, step)
    if store:
        client.command(INSERT_SESSIONS, step)
        client.command(INSERT_EVENTS, step)
    rows = client.query(f"SELECT sum(length(kinds) + arraySum(engaged)) AS n FROM {VISITS}")  # noqa: S608
    return int(rows[0]["n"])


def generate(client: Any, site_id: int, target: int, days: int, seed: int, params: dict) -> int:
    """Insert about `target` events, day by day. Events per person are measured as it goes,
    so each day's people aim at its share of the events still missing; the last day tops
    up until within 0.1 % of `target`."""
    plan = day_plan(days, dt.datetime.now(dt.UTC))
    client.command(f"DROP TABLE IF EXISTS {VISITS}")
    client.command(CREATE_VISITS)
    base = {**params, "site": site_id, "seed": seed}

    def step(day: int, first: int, people: int) -> dict[str, Any]:
        date, _, hours, limit_ms = plan[day]
        batch = {"day": date, "hours": hours, "limit_ms": limit_ms, "first": first}
        return {**base, **batch, "people": people}

    per_person = _batch(client, step(0, 0, 20_000), store=False) / 20_000
    written = 0
    for index, (day, weight, _, _) in enumerate(plan):
        share = weight / sum(w for _, w, _, _ in plan[index:])
        first, started = 0, time.perf_counter()
        while first == 0 or (index == len(plan) - 1 and target - written > target / 1000):
            people = max(1, round((target - written) * share / per_person))
            rows = _batch(client, step(index, first, people))
            written, first, per_person = written + rows, first + people, rows / people
        print(
            f"  {day}: {first:>9,} people, {written:>12,} events so far"
            f" ({time.perf_counter() - started:.1f} s)",
            flush=True,
        )
    client.command(f"DROP TABLE IF EXISTS {VISITS}")
    return written


def merge_all(client: Any) -> None:
    """`OPTIMIZE … FINAL` of every partition of `events` and `sessions` with several parts,
    one partition per core at a time (a merge runs on one thread)."""
    from events.clickhouse import get_client

    partitions = client.query(
        "SELECT table, partition_id FROM system.parts"
        " WHERE active AND database = currentDatabase() AND table IN ('events', 'sessions')"
        " GROUP BY table, partition_id HAVING count() > 1 ORDER BY sum(rows) DESC"
    )

    def optimize(row: dict[str, str]) -> None:
        partition = row["partition_id"]
        assert partition.isdigit()  # toYYYYMM: it stands in the statement unbound
        get_client().command(f"OPTIMIZE TABLE {row['table']} PARTITION ID '{partition}' FINAL")

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(optimize, partitions))  # each thread has its own chDB connection


SANITY = """
SELECT
    (SELECT count() FROM events WHERE site_id = {s:UInt64}) AS events,
    (SELECT countIf(name = 'pageview') FROM events WHERE site_id = {s:UInt64}) AS pageviews,
    (SELECT countIf(name != 'engagement') FROM events WHERE site_id = {s:UInt64}) AS counted,
    (SELECT countIf(name = 'engagement') FROM events WHERE site_id = {s:UInt64}) AS engagement,
    (SELECT uniqExact(pathname) FROM events WHERE site_id = {s:UInt64} AND name = 'pageview')
        AS pages,
    (SELECT min(timestamp) FROM events WHERE site_id = {s:UInt64}) AS first,
    (SELECT max(timestamp) FROM events WHERE site_id = {s:UInt64}) AS last
"""
SESSIONS_SANITY = """
SELECT sum(sign) AS visits, sum(sign * pageviews) AS pageviews, sum(sign * events) AS events,
    sum(sign * is_bounce) / sum(sign) AS bounce_rate, sum(sign * duration) / sum(sign) AS duration,
    uniqExact(visitor_id) AS visitor_ids
FROM sessions WHERE site_id = {s:UInt64}
"""
TOP_PAGES = """
SELECT pathname, count() AS n FROM events
WHERE site_id = {s:UInt64} AND name = 'pageview' GROUP BY pathname ORDER BY n DESC LIMIT 5
"""
NAMES = """
SELECT name, count() AS n, uniqExact(session_id) AS visits FROM events
WHERE site_id = {s:UInt64} GROUP BY name ORDER BY n DESC
"""
CHANNELS = """
SELECT channel, sum(sign) AS visits FROM sessions WHERE site_id = {s:UInt64}
GROUP BY channel ORDER BY visits DESC
"""
DISK = """
SELECT table, sum(rows) AS rows, count() AS parts, sum(bytes_on_disk) AS bytes
FROM system.parts
WHERE active AND database = currentDatabase() AND table IN ('events', 'sessions')
GROUP BY table ORDER BY table
"""


def report(client: Any, site_id: int) -> None:
    p = {"s": site_id}
    ev = client.query(SANITY, p)[0]
    se = client.query(SESSIONS_SANITY, p)[0]
    top = client.query(TOP_PAGES, p)
    print(
        f"events {ev['events']:,} ({ev['engagement']:,} engagement), {ev['first']} … {ev['last']}"
    )
    print(
        f"visits (sum(sign)) {se['visits']:,}, bounce rate {se['bounce_rate']:.1%}, "
        f"mean duration {se['duration']:.0f} s, visitor ids {se['visitor_ids']:,}"
    )
    print(
        f"pageviews: events {ev['pageviews']:,} / sessions {se['pageviews']:,}; "
        f"non-engagement events: events {ev['counted']:,} / sessions {se['events']:,} "
        f"({'consistent' if (ev['pageviews'], ev['counted']) == (se['pageviews'], se['events']) else 'MISMATCH'})"
    )
    share = sum(r["n"] for r in top) / max(1, ev["pageviews"])
    print(f"distinct pages {ev['pages']:,}; top 5 pages {share:.1%} of pageviews:")
    for row in top:
        print(f"  {row['pathname']:<24} {row['n'] / max(1, ev['pageviews']):.1%}")
    print(
        "events by name: "
        + ", ".join(
            f"{r['name']} {r['n']:,} ({r['visits'] / max(1, se['visits']):.1%} of visits)"
            for r in client.query(NAMES, p)
        )
    )
    print(
        "visits by channel: "
        + ", ".join(
            f"{r['channel']} {r['visits'] / max(1, se['visits']):.1%}"
            for r in client.query(CHANNELS, p)
        )
    )
    for row in client.query(DISK):
        print(
            f"{row['table']}: {row['rows']:,} rows in {row['parts']} parts, "
            f"{row['bytes'] / 2**20:,.1f} MiB on disk"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--var", required=True, help="Trail var dir (accounts DB + chDB)")
    parser.add_argument("--events", type=int, required=True, help="events to generate")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--site-domain", default="bench.example.com")
    args = parser.parse_args()

    _setup.django(var_dir=args.var)  # Django and ClickHouse migrations
    from events.clickhouse import get_client

    client = get_client()
    site = ensure_site(args.site_domain)
    print(f"site {site.domain} (id {site.id}), var dir {args.var}")
    existing = count_events(client, site.id)
    start = time.perf_counter()
    if abs(existing - args.events) <= args.events / 100:
        print(f"{existing:,} events already there (requested {args.events:,}): reusing them")
        written = 0
    else:
        if existing:
            print(f"{existing:,} events there, {args.events:,} requested: deleting them")
            for table in ("events", "sessions"):
                client.command(
                    f"ALTER TABLE {table} DELETE WHERE site_id = {{s:UInt64}}"
                    " SETTINGS mutations_sync = 2",
                    {"s": site.id},
                )
        params = lookup_params(site.domain, args.seed)
        client.command("SYSTEM STOP MERGES")  # one merge at the end instead of many
        try:
            written = generate(client, site.id, args.events, args.days, args.seed, params)
        finally:
            client.command("SYSTEM START MERGES")
        generated = time.perf_counter() - start
        print(f"generated {written:,} events in {generated:.1f} s; merging parts")
        merge_all(client)
    elapsed = time.perf_counter() - start
    report(client, site.id)
    print(
        f"site {site.domain} id {site.id}: {written:,} events written in {elapsed:.1f} s"
        " (generation + merge)"
    )


if __name__ == "__main__":
    main()
