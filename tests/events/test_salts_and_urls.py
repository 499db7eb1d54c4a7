"""Visitor hashes with daily salts, salt purging, and what page URLs tell."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events import salts
from events.enrich.urls import PageUrl, parse_page_url
from events.models import Salt

NOON = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.fixture(autouse=True)
def _no_cached_salts() -> None:
    salts.forget_cache()


@pytest.mark.django_db
def test_same_person_same_site_same_day_is_one_visitor() -> None:
    one = salts.visitor_id(site_id=1, ip="198.51.100.7", user_agent=UA, received_at=NOON)
    assert one == salts.visitor_id(
        site_id=1, ip="198.51.100.7", user_agent=UA, received_at=NOON + dt.timedelta(hours=11)
    )
    assert 0 <= one < 2**64
    others = {
        salts.visitor_id(site_id=2, ip="198.51.100.7", user_agent=UA, received_at=NOON),
        salts.visitor_id(site_id=1, ip="198.51.100.8", user_agent=UA, received_at=NOON),
        salts.visitor_id(site_id=1, ip="198.51.100.7", user_agent=UA + " x", received_at=NOON),
        salts.visitor_id(
            site_id=1, ip="198.51.100.7", user_agent=UA, received_at=NOON + dt.timedelta(days=1)
        ),
    }
    assert one not in others and len(others) == 4


@pytest.mark.django_db
def test_one_salt_per_day_shared_by_processes_and_never_the_ip() -> None:
    salts.visitor_id(site_id=1, ip="198.51.100.7", user_agent=UA, received_at=NOON)
    [row] = Salt.objects.all()
    assert row.day == NOON.date() and len(bytes(row.secret)) == 32
    salts.forget_cache()  # another process reads the same salt from the database
    assert salts.salt_for(NOON.date()) == bytes(row.secret)


@pytest.mark.django_db
def test_salts_are_deleted_48_hours_after_their_day_ends() -> None:
    for offset in range(5):
        salts.salt_for(NOON.date() - dt.timedelta(days=offset))
    # At 2026-11-23 12:00 the salt of the 20th (its day ended on the 21st at 00:00) has
    # outlived 48 h (deadline: 23rd 00:00); the 21st's lives until the 24th 00:00.
    assert salts.purge_salts(NOON) == 2
    assert sorted(Salt.objects.values_list("day", flat=True)) == [
        dt.date(2026, 11, 21),
        dt.date(2026, 11, 22),
        dt.date(2026, 11, 23),
    ]
    assert salts.purge_salts(dt.datetime(2026, 11, 24, 0, 0, tzinfo=dt.UTC)) == 1


def test_page_urls() -> None:
    assert parse_page_url("https://www.shop.com/") == PageUrl(hostname="shop.com", pathname="/")
    tagged = parse_page_url(
        "https://shop.com/sale?utm_source=Newsletter&utm_medium=email&utm_campaign=bf%2026&UTM_TERM=x&gclid=abc"
    )
    assert (tagged.utm_source, tagged.utm_medium, tagged.utm_campaign, tagged.utm_term) == (
        "Newsletter",
        "email",
        "bf 26",
        "x",
    )
    assert tagged.click_id_param == "gclid"
    assert parse_page_url("https://shop.com/?ref=producthunt").utm_source == "producthunt"
    assert parse_page_url("https://app.com/#/settings/team").pathname == "/"
    assert (
        parse_page_url("https://app.com/#/settings/team", hash_mode=True).pathname
        == "/#/settings/team"
    )
    assert parse_page_url("/only/a/path").pathname == "/only/a/path"


def test_paths_are_stored_percent_decoded_as_plausible_stores_them() -> None:
    assert parse_page_url("https://shop.com/caf%C3%A9/men%C3%BC").pathname == "/café/menü"
    assert parse_page_url("https://shop.com/a%20b%20%20").pathname == "/a b"  # trailing cut
    assert parse_page_url("https://shop.com/%E2%82%AC?x=%E2%82%AC").pathname == "/€"
    hashed = parse_page_url("https://app.com/#/%C3%BCber", hash_mode=True)
    assert hashed.pathname == "/#/über"
    # what would decode to a control character or invalid UTF-8 stays as sent
    for raw in ("/a%00b", "/a%0Ab", "/a%FFb", "/a%C3", "/a%7Fb"):
        assert parse_page_url(f"https://shop.com{raw}").pathname == raw
    assert parse_page_url("https://shop.com/100%").pathname == "/100%"  # not an escape
    assert parse_page_url("https://shop.com/%20").pathname == "/"


@given(st.text(max_size=300))
def test_any_url_text_parses(url: str) -> None:
    try:
        page = parse_page_url(url)
    except ValueError:
        return  # urlsplit refuses some (the edge refuses those first)
    assert page.pathname


def test_cached_page_urls_are_keyed_by_hash_mode_too() -> None:
    """parse_page_url is cached per (URL, hash mode): the same URL asked both ways, in
    either order, gets each mode's own answer."""
    url = "https://cache-key.example/app?utm_source=news#/settings"
    for _ in range(2):
        assert parse_page_url(url, hash_mode=True).pathname == "/app#/settings"
        assert parse_page_url(url).pathname == "/app"
        assert parse_page_url(url, hash_mode=False).utm_source == "news"
