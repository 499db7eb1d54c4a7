"""Errors raised by the ClickHouse adapters, the same for both backends."""

import re

# Server error codes that say a part of the cluster cannot be reached now, not that the
# statement is wrong: an insert refused with one of them is retried from the spool (never
# dead-lettered), a report answers 503. A shard with no replica up (279, 210, 209), Keeper
# lost (225, 999, 242: the replica went read-only), a quorum or replica count not met
# (285, 286), an insert whose outcome is unknown (319), a timeout (159).
UNAVAILABLE_CODES = frozenset({159, 209, 210, 225, 242, 279, 285, 286, 319, 999})
# "received ClickHouse error code 279" (clickhouse-connect, from X-ClickHouse-Exception-Code)
# or "Code: 279." (the server's message)
_CODE = re.compile(r"(?:error code |Code: )(\d+)")


def unavailable(message: str) -> bool:
    """Does a server's error message carry one of `UNAVAILABLE_CODES`?"""
    return any(int(code) in UNAVAILABLE_CODES for code in _CODE.findall(message))


class ClickHouseError(Exception):
    """ClickHouse rejected a statement (bad SQL, bad data, missing table)."""


class ClickHouseUnavailable(ClickHouseError):
    """ClickHouse cannot be reached or opened."""


class ClickHouseLocked(ClickHouseUnavailable):
    """The embedded data directory is held by another process."""
