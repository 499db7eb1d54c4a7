"""Referrer attribution (source, channel, cleaned referrer) and referrer-spam detection."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.enrich import referrers
from events.enrich.referrers import (
    CATEGORIES,
    CHANNELS,
    DIRECT,
    Attribution,
    attribute,
    is_spam_referrer,
    parse_sources,
    parse_spam_list,
)

SITE = "example.com"


def attr(referrer: str = "", **kwargs: str) -> Attribution:
    return attribute(referrer=referrer, page_host=kwargs.pop("page_host", SITE), **kwargs)


# One or more cases per channel; the table must cover every channel (asserted below).
CHANNEL_CASES: list[tuple[dict[str, str], Attribution]] = [
    ({}, DIRECT),
    ({"utm_campaign": "spring"}, DIRECT),  # a campaign alone names no source
    (
        {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "PMax cross-network"},
        Attribution("Google", "Cross-network", ""),
    ),
    (
        {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "Shopping - summer"},
        Attribution("Google", "Paid Shopping", ""),
    ),
    (
        {"referrer": "https://www.amazon.de/dp/B0001", "utm_medium": "ppc"},
        Attribution("Amazon", "Paid Shopping", "amazon.de/dp/B0001"),
    ),
    (
        {"referrer": "https://www.google.com/", "click_id_param": "gclid"},
        Attribution("Google", "Paid Search", "google.com"),
    ),
    (
        {"utm_source": "bing", "utm_medium": "paidsearch"},
        Attribution("Bing", "Paid Search", ""),
    ),
    (
        {"utm_source": "fb", "utm_medium": "paid_social"},
        Attribution("Facebook", "Paid Social", ""),
    ),
    (
        {"utm_source": "linkedin", "utm_medium": "retargeting"},
        Attribution("LinkedIn", "Paid Social", ""),
    ),
    (
        {"referrer": "https://www.youtube.com/watch?v=abc", "click_id_param": "gclid"},
        Attribution("YouTube", "Paid Video", "youtube.com/watch"),
    ),
    (
        {"utm_source": "adnetwork", "utm_medium": "banner"},
        Attribution("adnetwork", "Display", ""),
    ),
    (
        {"utm_source": "adnetwork", "utm_medium": "CPM"},  # cpm on a non-search source
        Attribution("adnetwork", "Display", ""),
    ),
    (
        {"utm_source": "partner", "utm_medium": "cpc"},
        Attribution("partner", "Paid Other", ""),
    ),
    (
        {"referrer": "https://blog.example.org/", "click_id_param": "gclid"},
        Attribution("blog.example.org", "Paid Other", "blog.example.org"),
    ),
    (
        {"referrer": "https://www.ebay.co.uk/itm/1"},
        Attribution("eBay", "Organic Shopping", "ebay.co.uk/itm/1"),
    ),
    (
        {"utm_source": "partner", "utm_campaign": "e-shop launch"},
        Attribution("partner", "Organic Shopping", ""),
    ),
    (
        {"referrer": "https://t.co/AbC123"},
        Attribution("Twitter", "Organic Social", "t.co/AbC123"),
    ),
    (
        {"referrer": "https://lm.facebook.com/l.php?u=x", "click_id_param": "fbclid"},
        Attribution("Facebook", "Organic Social", "lm.facebook.com/l.php"),
    ),
    (
        {"utm_source": "mastodon.example", "utm_medium": "social-media"},
        Attribution("mastodon.example", "Organic Social", ""),
    ),
    (
        {"referrer": "https://vimeo.com/123"},
        Attribution("Vimeo", "Organic Video", "vimeo.com/123"),
    ),
    (
        {"utm_source": "partner", "utm_medium": "video-preroll"},
        Attribution("partner", "Organic Video", ""),
    ),
    (
        {"referrer": "https://duckduckgo.com/"},
        Attribution("DuckDuckGo", "Organic Search", "duckduckgo.com"),
    ),
    (
        {"utm_source": "partner", "utm_medium": "organic"},
        Attribution("partner", "Organic Search", ""),
    ),
    (
        {"referrer": "https://blog.example.org/post/1?utm=x#top"},
        Attribution("blog.example.org", "Referral", "blog.example.org/post/1"),
    ),
    (
        {"utm_source": "partner", "utm_medium": "referral"},
        Attribution("partner", "Referral", ""),
    ),
    (
        {"referrer": "https://chatgpt.com/", "utm_source": "chatgpt.com"},
        Attribution("ChatGPT", "Referral", "chatgpt.com"),
    ),
    (
        {"referrer": "https://en.wikipedia.org/wiki/Web_analytics"},
        Attribution("Wikipedia", "Referral", "en.wikipedia.org/wiki/Web_analytics"),
    ),
    (
        {"referrer": "https://mail.google.com/"},
        Attribution("Gmail", "Email", "mail.google.com"),
    ),
    (
        {"utm_source": "Newsletter"},
        Attribution("Newsletter", "Email", ""),
    ),
    (
        {"utm_source": "acme-weekly", "utm_medium": "E-Mail"},
        Attribution("acme-weekly", "Email", ""),
    ),
    (
        {"utm_source": "partner", "utm_medium": "affiliate"},
        Attribution("partner", "Affiliates", ""),
    ),
    (
        {"utm_source": "spotify", "utm_medium": "audio"},
        Attribution("spotify", "Audio", ""),
    ),
    ({"utm_source": "sms"}, Attribution("sms", "SMS", "")),
    (
        {"referrer": "android-app://com.google.android.apps.messaging"},
        Attribution("Google Messages", "SMS", "android-app://com.google.android.apps.messaging"),
    ),
    (
        {"utm_source": "app", "utm_medium": "web-push"},
        Attribution("app", "Mobile Push Notifications", ""),
    ),
    (
        {"utm_source": "firebase"},
        Attribution("firebase", "Mobile Push Notifications", ""),
    ),
    ({"utm_source": "foo"}, Attribution("foo", "Unassigned", "")),
    (
        {"utm_source": "partner", "utm_medium": "carrier-pigeon"},
        Attribution("partner", "Unassigned", ""),
    ),
]


@pytest.mark.parametrize(("kwargs", "expected"), CHANNEL_CASES)
def test_channels(kwargs: dict[str, str], expected: Attribution) -> None:
    assert attr(**kwargs) == expected


def test_the_channel_table_covers_every_channel() -> None:
    assert {expected.channel for _, expected in CHANNEL_CASES} == set(CHANNELS)
    assert len(set(CHANNELS)) == len(CHANNELS)


def test_shopping_campaigns_need_shop_as_a_word_start() -> None:
    # "workshop" is not a shopping campaign; "eshop" and "shop" are.
    assert attr(utm_source="partner", utm_campaign="workshop").channel == "Unassigned"
    assert attr(utm_source="partner", utm_campaign="eshop").channel == "Organic Shopping"
    assert attr(utm_source="partner", utm_campaign="shop").channel == "Organic Shopping"


@pytest.mark.parametrize(
    ("utm_source", "source"),
    [
        ("fb", "Facebook"),
        ("FB", "Facebook"),
        ("facebook", "Facebook"),
        ("facebook.com", "Facebook"),
        ("m.facebook.com", "Facebook"),
        ("https://www.facebook.com/somepage", "Facebook"),
        ("google", "Google"),
        ("Google.co.uk", "Google"),
        ("ig", "Instagram"),
        ("x", "Twitter"),
        ("hacker-news", "Hacker News"),
        ("Hacker_News", "Hacker News"),
        ("hn", "Hacker News"),
        ("producthunt", "Product Hunt"),
        ("yt", "YouTube"),
        ("chatgpt.com", "ChatGPT"),
        ("  Spring Newsletter ", "Spring Newsletter"),  # unknown: kept as sent, trimmed
        ("notfacebook.com", "notfacebook.com"),
    ],
)
def test_utm_source_maps_known_aliases_and_keeps_the_rest(utm_source: str, source: str) -> None:
    assert attr(utm_source=utm_source).source == source


def test_utm_tags_win_over_the_referrer_which_is_still_kept() -> None:
    got = attr("https://www.google.com/search?q=x", utm_source="newsletter", utm_medium="email")
    assert got == Attribution("newsletter", "Email", "google.com/search")
    # A utm_medium alone keeps the referrer's source but decides the channel.
    assert attr("https://www.google.com/", utm_medium="cpc") == Attribution(
        "Google", "Paid Search", "google.com"
    )


@pytest.mark.parametrize(
    ("click_id", "referrer", "expected"),
    [
        ("gclid", "", Attribution("Google", "Paid Search", "")),
        ("gbraid", "", Attribution("Google", "Paid Search", "")),
        ("wbraid", "", Attribution("Google", "Paid Search", "")),
        ("dclid", "", Attribution("Google", "Paid Search", "")),
        ("GCLID", "", Attribution("Google", "Paid Search", "")),
        ("msclkid", "", Attribution("Bing", "Paid Search", "")),
        ("msclkid", "https://www.bing.com/", Attribution("Bing", "Paid Search", "bing.com")),
        ("ttclid", "", Attribution("TikTok", "Paid Social", "")),
        ("twclid", "", Attribution("Twitter", "Paid Social", "")),
        ("li_fat_id", "", Attribution("LinkedIn", "Paid Social", "")),
        # fbclid names Facebook but is added to organic links too: never paid.
        ("fbclid", "", Attribution("Facebook", "Organic Social", "")),
        (
            "fbclid",
            "https://m.facebook.com/",
            Attribution("Facebook", "Organic Social", "m.facebook.com"),
        ),
        # An internal referrer is no source: the click id names it.
        ("gclid", "https://example.com/pricing", Attribution("Google", "Paid Search", "")),
        ("", "", DIRECT),
        ("not_a_click_id", "", DIRECT),
    ],
)
def test_click_ids(click_id: str, referrer: str, expected: Attribution) -> None:
    assert attr(referrer, click_id_param=click_id) == expected


def test_utm_medium_wins_over_a_click_id() -> None:
    assert attr(click_id_param="gclid", utm_source="news", utm_medium="email") == Attribution(
        "news", "Email", ""
    )


@pytest.mark.parametrize(
    ("referrer", "page_host"),
    [
        ("https://example.com/pricing", "example.com"),
        ("https://www.example.com/pricing?x=1", "example.com"),
        ("https://example.com/", "www.example.com"),
        ("https://blog.example.com/post", "example.com"),
        ("https://example.com/", "shop.example.com"),
        ("HTTPS://WWW.EXAMPLE.COM:8443/A", "Example.com"),
        ("http://localhost:8000/", "localhost"),
    ],
)
def test_internal_referrers_are_direct(referrer: str, page_host: str) -> None:
    assert attr(referrer, page_host=page_host) == DIRECT


@pytest.mark.parametrize(
    ("referrer", "page_host"),
    [
        ("https://notexample.com/", "example.com"),  # ends with the text, not a subdomain
        ("https://example.com.evil.io/", "example.com"),
        # Siblings are separate sites: neither is the other's subdomain or parent.
        ("https://docs.example.com/", "shop.example.com"),
        ("https://example.com/", ""),  # no page host: nothing is internal
    ],
)
def test_lookalikes_of_the_page_host_are_external(referrer: str, page_host: str) -> None:
    got = attr(referrer, page_host=page_host)
    assert got.channel == "Referral" and got.referrer and got.source


def test_internal_referrer_with_utm_tags_keeps_the_tags() -> None:
    got = attr("https://example.com/blog", utm_source="twitter", utm_medium="social")
    assert got == Attribution("Twitter", "Organic Social", "")


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        ("https://www.google.com/", Attribution("Google", "Organic Search", "google.com")),
        ("https://www.google.de/", Attribution("Google", "Organic Search", "google.de")),
        ("https://www.google.co.uk/", Attribution("Google", "Organic Search", "google.co.uk")),
        (
            "https://www.google.com.br/search?q=x",
            Attribution("Google", "Organic Search", "google.com.br/search"),
        ),
        ("https://google.co.jp/", Attribution("Google", "Organic Search", "google.co.jp")),
        (
            "https://scholar.google.com.au/",
            Attribution("Google", "Organic Search", "scholar.google.com.au"),
        ),
        ("https://www.google.com./", Attribution("Google", "Organic Search", "google.com")),
        ("https://news.google.com/", Attribution("Google News", "Referral", "news.google.com")),
        (
            "https://mail.google.com/mail/u/0/",
            Attribution("Gmail", "Email", "mail.google.com/mail/u/0/"),
        ),
        ("https://gemini.google.com/", Attribution("Gemini", "Referral", "gemini.google.com")),
        (
            "https://search.yahoo.co.jp/",
            Attribution("Yahoo", "Organic Search", "search.yahoo.co.jp"),
        ),
        ("https://yandex.com.tr/", Attribution("Yandex", "Organic Search", "yandex.com.tr")),
        ("https://www.amazon.co.jp/", Attribution("Amazon", "Organic Shopping", "amazon.co.jp")),
        # Lookalikes: "google" must be followed by a registry suffix.
        ("https://google.evil.io/", Attribution("google.evil.io", "Referral", "google.evil.io")),
        ("https://notgoogle.com/", Attribution("notgoogle.com", "Referral", "notgoogle.com")),
        (
            "https://google.com.evil.io/",
            Attribution("google.com.evil.io", "Referral", "google.com.evil.io"),
        ),
        (
            "https://google.blogspot.com/",
            Attribution("google.blogspot.com", "Referral", "google.blogspot.com"),
        ),
    ],
)
def test_google_cctlds_by_rule_and_lookalikes(referrer: str, expected: Attribution) -> None:
    assert attr(referrer) == expected


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        (
            "android-app://com.google.android.gm",
            Attribution("Gmail", "Email", "android-app://com.google.android.gm"),
        ),
        (
            "android-app://com.google.android.googlequicksearchbox/https/www.google.com",
            Attribution(
                "Google", "Organic Search", "android-app://com.google.android.googlequicksearchbox"
            ),
        ),
        (
            "android-app://com.facebook.katana",
            Attribution("Facebook", "Organic Social", "android-app://com.facebook.katana"),
        ),
        (
            "android-app://COM.Slack",
            Attribution("Slack", "Organic Social", "android-app://com.slack"),
        ),
        (
            "android-app://org.telegram.messenger",
            Attribution("Telegram", "Organic Social", "android-app://org.telegram.messenger"),
        ),
        (
            "android-app://com.example.reader",
            Attribution("com.example.reader", "Referral", "android-app://com.example.reader"),
        ),
    ],
)
def test_android_app_referrers(referrer: str, expected: Attribution) -> None:
    assert attr(referrer) == expected


@pytest.mark.parametrize(
    "referrer",
    [
        "",
        "   ",
        "not a url",
        "http://",
        "https://",
        "http://.",
        "javascript:alert(1)",
        "javascript://example.com/%0Aalert(1)",
        "data:text/html,hello",
        "about:blank",
        "ftp://example.org/file",
        "file:///etc/passwd",
        "http://[::1",
        "http://exa mple.com/",
        "http://exa<mple.com/",
        "https://" + "a" * 300 + ".com/",  # a host longer than DNS allows
    ],
)
def test_malformed_referrers_are_direct(referrer: str) -> None:
    assert attr(referrer) == DIRECT
    assert is_spam_referrer(referrer) is False


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        (
            "HTTPS://WWW.EXAMPLE.ORG/Path/To?Q=1",
            Attribution("example.org", "Referral", "example.org/Path/To"),
        ),
        ("https://example.org:8443/a?b=c", Attribution("example.org", "Referral", "example.org/a")),
        ("https://user:secret@example.org/", Attribution("example.org", "Referral", "example.org")),
        (
            "https://bücher.example/katalog",
            Attribution("bücher.example", "Referral", "bücher.example/katalog"),
        ),
        (
            "https://xn--bcher-kva.example/",
            Attribution("xn--bcher-kva.example", "Referral", "xn--bcher-kva.example"),
        ),
        ("http://192.0.2.7:8080/x", Attribution("192.0.2.7", "Referral", "192.0.2.7/x")),
        ("http://[2001:db8::1]:8080/x", Attribution("2001:db8::1", "Referral", "[2001:db8::1]/x")),
        ("example.org/page", Attribution("example.org", "Referral", "example.org/page")),
        (
            "  https://www.reddit.com/r/x/  ",
            Attribution("Reddit", "Organic Social", "reddit.com/r/x/"),
        ),
    ],
)
def test_odd_but_usable_referrers(referrer: str, expected: Attribution) -> None:
    assert attr(referrer) == expected


def test_very_long_referrers_are_cut_to_the_limit() -> None:
    long_path = "/" + "p" * 10_000
    got = attr("https://example.org" + long_path)
    assert got.source == "example.org" and got.channel == "Referral"
    assert len(got.referrer) == referrers.MAX_REFERRER
    assert got.referrer.startswith("example.org/ppp")


@settings(max_examples=300, deadline=None)
@given(
    referrer=st.one_of(
        st.text(max_size=200),
        st.builds(lambda s: f"https://{s}", st.text(max_size=80)),
        st.builds(lambda s: f"android-app://{s}", st.text(max_size=40)),
    ),
    page_host=st.text(max_size=40),
    utm_source=st.text(max_size=30),
    utm_medium=st.text(max_size=30),
    utm_campaign=st.text(max_size=30),
    click_id_param=st.sampled_from(["", "gclid", "fbclid", "ttclid", "x"]),
)
def test_any_input_gives_a_valid_attribution(
    referrer: str,
    page_host: str,
    utm_source: str,
    utm_medium: str,
    utm_campaign: str,
    click_id_param: str,
) -> None:
    got = attribute(
        referrer=referrer,
        page_host=page_host,
        utm_source=utm_source,
        utm_medium=utm_medium,
        utm_campaign=utm_campaign,
        click_id_param=click_id_param,
    )
    assert got.channel in CHANNELS
    assert len(got.referrer) <= referrers.MAX_REFERRER
    assert "?" not in got.referrer.removeprefix("android-app://").split("/")[0]
    assert (got.channel == "Direct") == (got == DIRECT)
    assert isinstance(is_spam_referrer(referrer), bool)


# --- referrer spam ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("referrer", "spam"),
    [
        ("https://semalt.com/", True),
        ("http://www.semalt.com/page?x=1", True),
        ("https://a.b.semalt.com/", True),  # every parent domain is checked
        ("HTTPS://SEMALT.COM", True),
        ("https://semalt.com.:443/", True),
        ("semalt.com/crawler", True),  # scheme-less, as some servers send it
        ("https://darodar.com/", True),
        ("https://blog.xsk.in/", True),  # listed as a subdomain only...
        ("https://x.blog.xsk.in/", True),
        ("https://xsk.in/", False),  # ...so its parent is not spam
        ("https://notsemalt.com/", False),  # ends with the text, not a subdomain
        ("https://semalt.com.example.org/", False),
        ("https://semalt.co/", False),
        ("https://www.google.com/", False),
        ("https://l.facebook.com/", False),
        ("android-app://semalt.com", False),
        ("", False),
        ("not a url", False),
    ],
)
def test_spam_referrers(referrer: str, spam: bool) -> None:
    assert is_spam_referrer(referrer) is spam


def test_spam_matching_handles_unicode_hosts() -> None:
    listed = "xn--c1acygb.xn--p1ai"  # stored in the list in its ASCII (punycode) form
    assert listed in referrers.spam_domains()
    unicode_host = listed.encode("ascii").decode("idna")
    assert not unicode_host.isascii()
    assert is_spam_referrer(f"https://{unicode_host}/") is True
    assert is_spam_referrer(f"https://www.{listed}/") is True


def test_the_shipped_spam_list() -> None:
    domains = referrers.spam_domains()
    assert isinstance(domains, frozenset) and len(domains) >= 2_000
    assert all(d == d.strip().lower() and not d.startswith("www.") for d in domains)
    text = referrers._read_data("referrer_spam.txt")
    assert "github.com/matomo-org/referrer-spam-list" in text
    assert "Public Domain" in text
    # No well-known source is on the spam list.
    for host in referrers.sources().hosts:
        assert not is_spam_referrer(f"https://{host}/"), host


def test_parse_spam_list() -> None:
    text = "# comment\n\nSpam.Example\n  www.other.example  \nthird.example.\n"
    assert parse_spam_list(text) == {"spam.example", "other.example", "third.example"}


# --- the source list -------------------------------------------------------------------


def test_the_shipped_source_list() -> None:
    table = referrers.sources()
    assert len(table.names) >= 200
    assert len(table.hosts) + len(table.labels) >= 290
    assert {s.category for s in table.names.values()} == set(CATEGORIES)
    for platform in ("Google", "Bing", "Facebook", "TikTok", "Twitter", "LinkedIn"):
        assert platform in table.names  # named by click ids
    for name in [
        "Google", "Bing", "DuckDuckGo", "Yahoo", "Yandex", "Baidu", "Ecosia", "Qwant",
        "Brave", "Startpage", "Naver", "Seznam", "Kagi",
    ]:  # fmt: skip
        assert table.names[name].category == "search", name
    for name in [
        "Facebook", "Instagram", "Twitter", "LinkedIn", "Reddit", "Pinterest", "TikTok",
        "Mastodon", "Threads", "Bluesky", "Hacker News", "Product Hunt", "Quora", "VK",
        "Weibo", "Telegram", "WhatsApp", "Discord", "Slack",
    ]:  # fmt: skip
        assert table.names[name].category == "social", name
    for name in ["YouTube", "Vimeo", "Twitch"]:
        assert table.names[name].category == "video", name
    for name in ["Amazon", "eBay"]:
        assert table.names[name].category == "shopping", name
    for name in ["Gmail", "Outlook", "Yahoo Mail"]:
        assert table.names[name].category == "email", name
    for name in ["ChatGPT", "Perplexity"]:
        assert table.names[name].category == "ai", name


@pytest.mark.parametrize(
    ("host", "source"),
    [
        ("m.facebook.com", "Facebook"),
        ("l.facebook.com", "Facebook"),
        ("lm.facebook.com", "Facebook"),
        ("x.com", "Twitter"),
        ("lnkd.in", "LinkedIn"),
        ("old.reddit.com", "Reddit"),
        ("pinterest.co.uk", "Pinterest"),
        ("mastodon.social", "Mastodon"),
        ("bsky.app", "Bluesky"),
        ("youtu.be", "YouTube"),
        ("m.youtube.com", "YouTube"),
        ("outlook.live.com", "Outlook"),
        ("mail.yahoo.com", "Yahoo Mail"),
        ("search.brave.com", "Brave"),
        ("perplexity.ai", "Perplexity"),
        ("ebay.de", "eBay"),
    ],
)
def test_known_hosts(host: str, source: str) -> None:
    found = referrers.known_source(host)
    assert found is not None and found.name == source


def _sources_json(*entries: dict[str, Any]) -> str:
    return json.dumps({"sources": list(entries)})


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (
            [
                {"name": "A", "category": "search", "hosts": ["a.example"]},
                {"name": "B", "category": "search", "hosts": ["a.example"]},
            ],
            "host 'a.example' is given to A and B",
        ),
        (
            [
                {"name": "A", "category": "search", "hosts": ["a.*"]},
                {"name": "B", "category": "social", "hosts": ["a.*"]},
            ],
            "label 'a'",
        ),
        ([{"name": "A", "category": "news", "hosts": []}], "unknown category"),
        ([{"name": "A", "category": "search", "hosts": ["www.a.example"]}], "without 'www.'"),
        ([{"name": "A", "category": "search", "hosts": ["https://a.example/"]}], "bad host"),
        ([{"name": "A", "category": "search", "hosts": [], "apps": ["Com.A"]}], "bad app"),
        (
            [{"name": "A", "category": "search"}, {"name": "A", "category": "social"}],
            "listed twice",
        ),
        (
            [
                {"name": "A", "category": "search", "aliases": ["x"]},
                {"name": "B", "category": "search", "aliases": ["X"]},
            ],
            "alias 'x'",
        ),
    ],
)
def test_source_list_mistakes_are_refused(entries: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_sources(_sources_json(*entries))


def test_parse_sources_builds_every_lookup() -> None:
    table = parse_sources(
        _sources_json(
            {
                "name": "Acme Search",
                "category": "search",
                "hosts": ["acme.*", "find.example"],
                "apps": ["com.acme.app"],
                "aliases": ["acme!"],
            }
        )
    )
    acme = table.names["Acme Search"]
    assert table.labels == {"acme": acme}
    assert table.hosts == {"find.example": acme}
    assert table.apps == {"com.acme.app": acme}
    assert table.aliases == {"acme!": acme, "acmesearch": acme}


# --- loading and speed -----------------------------------------------------------------


def test_lazy_data_is_built_once_when_threads_race() -> None:
    calls: list[int] = []

    def build() -> frozenset[str]:
        calls.append(1)
        time.sleep(0.05)
        return frozenset({"x"})

    lazy = referrers._Lazy(build)
    results: list[frozenset[str]] = []
    threads = [threading.Thread(target=lambda: results.append(lazy.get())) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(results) == 16 and all(r is results[0] for r in results)


def test_data_files_load_without_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network used")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert len(parse_spam_list(referrers._read_data("referrer_spam.txt"))) >= 2_000
    assert len(parse_sources(referrers._read_data("sources.json")).names) >= 200


def test_attribute_is_fast_for_repeated_referrers() -> None:
    calls = [
        {"referrer": "https://www.google.com/search?q=trail", "page_host": SITE},
        {
            "referrer": "https://l.facebook.com/l.php?u=x",
            "page_host": SITE,
            "click_id_param": "fbclid",
        },
        {
            "referrer": "https://news.ycombinator.com/item?id=1",
            "page_host": SITE,
            "utm_source": "hn",
            "utm_medium": "social",
            "utm_campaign": "launch",
        },
        {"referrer": "https://blog.example.org/post", "page_host": SITE},
    ]
    for kwargs in calls:  # warm the caches
        attribute(**kwargs)
    n = 10_000
    start = time.perf_counter()
    for i in range(n):
        attribute(**calls[i % len(calls)])
    mean_us = (time.perf_counter() - start) / n * 1e6
    assert mean_us < 50, f"{mean_us:.1f} µs a call"

    start = time.perf_counter()
    for i in range(n):
        is_spam_referrer(calls[i % len(calls)]["referrer"])
    mean_us = (time.perf_counter() - start) / n * 1e6
    assert mean_us < 20, f"{mean_us:.1f} µs a spam check"
