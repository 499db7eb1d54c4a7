"""GeoIP lookups on tiny fixture databases of both supported shapes."""

from __future__ import annotations

import dataclasses
import logging
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.test import override_settings
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from events.enrich import geo
from events.enrich.geo import (
    UNKNOWN,
    GeoDatabase,
    Location,
    dbip_in_use,
    geo_database,
    reset_geo_database,
)

INSTALLED_DBIP = geo.DBIP_DIRECTORY / geo.DBIP_IPV4


def _write(path: Path, version: int, networks: dict[str, dict[str, object]], kind: str) -> Path:
    writer = MMDBWriter(ip_version=version, database_type=kind, ipv4_compatible=version == 6)
    for network, record in networks.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


def _write_maxmind(path: Path) -> Path:
    return _write(
        path,
        6,
        {
            "81.2.69.0/24": {
                "country": {"iso_code": "GB"},
                "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
                "city": {"names": {"en": "London", "de": "London"}},
            },
            "2a02:c7f::/32": {"country": {"iso_code": "DE"}},
        },
        "GeoIP2-City",
    )


def _write_dbip(directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    v4 = _write(
        directory / "dbip-city-ipv4.mmdb",
        4,
        {
            "1.1.1.0/24": {
                "country_code": "AU",
                "state1": "New South Wales",
                "state2": "",
                "city": "Sydney",
            }
        },
        "city",
    )
    v6 = _write(
        directory / "dbip-city-ipv6.mmdb",
        6,
        {"2001:4860::/32": {"country_code": "US", "state1": "California", "city": "Mountain View"}},
        "city",
    )
    return v4, v6


@pytest.fixture
def maxmind(tmp_path: Path) -> GeoDatabase:
    return GeoDatabase(_write_maxmind(tmp_path / "city.mmdb"))


@pytest.fixture
def dbip(tmp_path: Path) -> GeoDatabase:
    return GeoDatabase(*_write_dbip(tmp_path))


def test_maxmind_city_shape(maxmind: GeoDatabase) -> None:
    assert maxmind.lookup("81.2.69.142") == Location("GB", "England", "London")
    assert maxmind.lookup("::ffff:81.2.69.142") == Location("GB", "England", "London")
    assert maxmind.lookup("2a02:c7f:1234::1") == Location("DE", "", "")


def test_dbip_lite_shape_with_one_file_per_version(dbip: GeoDatabase) -> None:
    assert dbip.lookup("1.1.1.1") == Location("AU", "New South Wales", "Sydney")
    assert dbip.lookup("2001:4860:4860::8888") == Location("US", "California", "Mountain View")


@pytest.mark.parametrize(
    "ip", ["", "not-an-ip", "10.0.0.1", "127.0.0.1", "192.168.1.9", "::1", "8.8.8.8"]
)
def test_private_unknown_and_malformed_addresses(maxmind: GeoDatabase, ip: str) -> None:
    assert maxmind.lookup(ip) == UNKNOWN


def test_no_database_means_no_location() -> None:
    assert GeoDatabase(None).lookup("81.2.69.142") == UNKNOWN


def test_database_type_reads_the_metadata(maxmind: GeoDatabase, dbip: GeoDatabase) -> None:
    assert maxmind.database_type == "GeoIP2-City"
    assert dbip.database_type == "city"


# --- geo_database(): the process-wide accessor -------------------------------------------


def _geoip_setting(path: Path | None) -> override_settings:
    """settings.TRAIL with GEOIP_DATABASE set to `path` (the accessor resets on the change)."""
    ingest = dataclasses.replace(settings.TRAIL.ingest, geoip_database=path)
    return override_settings(TRAIL=dataclasses.replace(settings.TRAIL, ingest=ingest))


@pytest.fixture
def no_dbip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the DB-IP directory at an empty place; return it (tests may fill it)."""
    directory = tmp_path / "node_modules" / "@ip-location-db" / "dbip-city-mmdb"
    monkeypatch.setattr(geo, "DBIP_DIRECTORY", directory)
    return directory


@pytest.fixture(autouse=True)
def _fresh_accessor() -> Iterator[None]:
    reset_geo_database()
    yield
    reset_geo_database()


def test_geoip_database_setting_is_used_for_both_ip_versions(tmp_path: Path, no_dbip: Path) -> None:
    _write_dbip(no_dbip)  # present, but the user's own file wins
    own = _write_maxmind(tmp_path / "GeoLite2-City.mmdb")
    with _geoip_setting(own):
        database = geo_database()
        assert database is not None
        assert database.lookup("81.2.69.142") == Location("GB", "England", "London")
        assert database.lookup("2a02:c7f::1") == Location("DE", "", "")
        assert database.lookup("1.1.1.1") == UNKNOWN  # not from the DB-IP files
        assert not dbip_in_use()  # MaxMind's terms are the user's business
        assert geo_database() is database  # opened once


def test_a_users_own_dbip_file_keeps_the_attribution(tmp_path: Path, no_dbip: Path) -> None:
    own, _ = _write_dbip(tmp_path / "mine")
    with _geoip_setting(own):
        database = geo_database()
        assert database is not None
        assert database.lookup("1.1.1.1").country_code == "AU"
        assert dbip_in_use()


def test_installed_dbip_lite_is_the_default(no_dbip: Path) -> None:
    _write_dbip(no_dbip)
    with _geoip_setting(None):
        database = geo_database()
        assert database is not None
        assert database.lookup("1.1.1.1") == Location("AU", "New South Wales", "Sydney")
        assert database.lookup("2001:4860:4860::8888").city == "Mountain View"
        assert dbip_in_use()
        credit = render_to_string("frontend/_dbip_credit.html")
        assert credit == '<a href="https://db-ip.com">IP geolocation by DB-IP</a>'


def test_no_database_means_none_and_one_warning(
    no_dbip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with _geoip_setting(None), caplog.at_level(logging.WARNING, logger=geo.__name__):
        assert geo_database() is None
        assert geo_database() is None
        assert not dbip_in_use()
    warnings = [r for r in caplog.records if r.name == geo.__name__]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert "make geoip" in warnings[0].getMessage()
    assert "GEOIP_DATABASE" in warnings[0].getMessage()


def test_an_unreadable_database_is_logged_not_raised(
    tmp_path: Path, no_dbip: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"not a MaxMind database")
    with _geoip_setting(broken), caplog.at_level(logging.ERROR, logger=geo.__name__):
        assert geo_database() is None
    assert "cannot be read" in caplog.text


def test_reset_reopens_after_the_files_appear(no_dbip: Path) -> None:
    with _geoip_setting(None):
        assert geo_database() is None
        _write_dbip(no_dbip)
        assert geo_database() is None  # decided once per process...
        reset_geo_database()
        assert geo_database() is not None  # ...until reset


def test_changing_settings_trail_reopens(tmp_path: Path, no_dbip: Path) -> None:
    own = _write_maxmind(tmp_path / "GeoLite2-City.mmdb")
    with _geoip_setting(None):
        assert geo_database() is None
        with _geoip_setting(own):  # no explicit reset: the setting_changed signal does it
            assert geo_database() is not None
        assert geo_database() is None


def test_the_accessor_opens_the_database_once_across_threads(
    no_dbip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_dbip(no_dbip)
    opened: list[int] = []
    real_load = geo._load

    def slow_load() -> geo._Loaded:
        opened.append(1)
        time.sleep(0.05)  # widen the race
        return real_load()

    monkeypatch.setattr(geo, "_load", slow_load)
    seen: list[GeoDatabase | None] = []
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        seen.append(geo_database())

    with _geoip_setting(None):
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(opened) == 1
    assert len(seen) == 8 and seen[0] is not None
    assert all(database is seen[0] for database in seen)


@pytest.mark.skipif(
    not INSTALLED_DBIP.is_file(), reason="DB-IP City Lite not installed: run `make geoip`"
)
def test_the_installed_dbip_lite_database() -> None:
    with _geoip_setting(None):
        database = geo_database()
        assert database is not None
        assert dbip_in_use()
        assert database.lookup("8.8.8.8").country_code == "US"
        # Anycast IPv6 moves between countries across releases: only check one is found.
        assert len(database.lookup("2001:4860:4860::8888").country_code) == 2
        assert database.lookup("::ffff:8.8.8.8").country_code == "US"
        assert database.lookup("10.1.2.3") == UNKNOWN
        # Warm cost of one lookup (~2 µs with the C extension, ~20 µs in pure Python).
        ips = [f"{a}.{b}.7.9" for a in (8, 31, 81, 151, 185) for b in range(0, 250, 5)]
        for ip in ips:
            database.lookup(ip)
        rounds = []
        for _ in range(5):
            started = time.perf_counter()
            for ip in ips:
                database.lookup(ip)
            rounds.append((time.perf_counter() - started) / len(ips))
        assert statistics.median(rounds) < 100e-6
