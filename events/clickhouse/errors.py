"""Errors raised by the ClickHouse adapters, the same for both backends."""


class ClickHouseError(Exception):
    """ClickHouse rejected a statement (bad SQL, bad data, missing table)."""


class ClickHouseUnavailable(ClickHouseError):
    """ClickHouse cannot be reached or opened."""


class ClickHouseLocked(ClickHouseUnavailable):
    """The embedded data directory is held by another process."""
