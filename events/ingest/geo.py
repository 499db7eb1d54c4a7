"""IP address -> country, region and city, from MaxMind-format (.mmdb) databases.

Two shapes are read: MaxMind GeoIP2/GeoLite2 City (one file for IPv4 and IPv6: `country`,
`subdivisions`, `city` with names by language) and ip-location-db's DB-IP City Lite
(`country_code`, `state1`, `city`; one file per IP version). The region is stored as its
English name in both cases: DB-IP Lite has no subdivision codes (docs/clickhouse.md).
The IP is looked up and forgotten; only the location is kept.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import maxminddb


@dataclass(frozen=True, slots=True)
class Location:
    country_code: str = ""
    region: str = ""
    city: str = ""


UNKNOWN = Location()


def _from_record(record: Any) -> Location:
    if not isinstance(record, dict):
        return UNKNOWN
    if "country_code" in record:  # ip-location-db (DB-IP Lite)
        code = record.get("country_code") or ""
        return Location(
            country_code=code.upper() if len(code) == 2 else "",
            region=record.get("state1") or "",
            city=record.get("city") or "",
        )
    country = record.get("country") or record.get("registered_country") or {}
    subdivisions = record.get("subdivisions") or [{}]
    city = record.get("city") or {}
    return Location(
        country_code=(country.get("iso_code") or "").upper(),
        region=(subdivisions[0].get("names") or {}).get("en", ""),
        city=(city.get("names") or {}).get("en", ""),
    )


class GeoDatabase:
    """One database per IP version (the same file may serve both)."""

    def __init__(self, ipv4: Path | None, ipv6: Path | None = None) -> None:
        self._v4 = maxminddb.open_database(str(ipv4), maxminddb.MODE_MMAP) if ipv4 else None
        if ipv6 is None or ipv6 == ipv4:
            self._v6 = self._v4
        else:
            self._v6 = maxminddb.open_database(str(ipv6), maxminddb.MODE_MMAP)

    def lookup(self, ip: str) -> Location:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return UNKNOWN
        if address.version == 6 and address.ipv4_mapped:
            address = address.ipv4_mapped
        reader = self._v4 if address.version == 4 else self._v6
        if reader is None or not address.is_global:
            return UNKNOWN
        try:
            return _from_record(reader.get(address))
        except (ValueError, maxminddb.InvalidDatabaseError):
            return UNKNOWN

    def close(self) -> None:
        for reader in {id(r): r for r in (self._v4, self._v6) if r is not None}.values():
            reader.close()
