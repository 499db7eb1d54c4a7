"""Daily salts and the visitor hash (the privacy model: docs/privacy.md, "The visitor hash").

`visitor_id = keyed_hash(salt_of_utc_day, site_id, ip, user_agent)`: one random 32-byte
salt per UTC day, created on first use, stored in the accounts database so every process
hashes alike, cached in-process (one query per process per day), deleted 48 h after its
day ends. Once a salt is gone, nobody (Trail included) can link a visitor hash to an IP.

Decision: the salt is the one of the day the event is *received* (UTC), not of its
timestamp: a batch event dated 10 days back would otherwise need a salt long deleted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading

from django.db import IntegrityError, transaction

from events.jobs import periodic
from events.models import Salt

KEEP_AFTER_DAY_END = dt.timedelta(hours=48)

_cache: dict[dt.date, bytes] = {}
_guard = threading.Lock()


def salt_for(day: dt.date) -> bytes:
    cached = _cache.get(day)
    if cached is not None:
        return cached
    with _guard:
        if day not in _cache:
            row = Salt.objects.filter(day=day).first()
            if row is None:
                try:
                    with transaction.atomic():
                        row = Salt.objects.create(day=day, secret=secrets.token_bytes(32))
                except IntegrityError:  # another process created it first
                    row = Salt.objects.get(day=day)
            _cache.clear()  # only today's (and at midnight yesterday's) matter
            _cache[day] = bytes(row.secret)
        return _cache[day]


def visitor_id(*, site_id: int, ip: str, user_agent: str, received_at: dt.datetime) -> int:
    """A 64-bit keyed hash; the same person on the same site and UTC day gets the same id."""
    key = salt_for(received_at.astimezone(dt.UTC).date())
    message = f"{site_id}\x1f{ip}\x1f{user_agent}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(message, key=key, digest_size=8).digest(), "big")


@periodic(every=3600, name="events.purge_salts")
def purge_salts(now: dt.datetime | None = None) -> int:
    """Delete the salts whose day ended more than 48 h ago; how many."""
    now = now or dt.datetime.now(dt.UTC)
    last_day_to_drop = (now - KEEP_AFTER_DAY_END).date() - dt.timedelta(days=1)
    deleted, _ = Salt.objects.filter(day__lte=last_day_to_drop).delete()
    with _guard:
        for day in [d for d in _cache if d <= last_day_to_drop]:
            del _cache[day]
    return deleted


def forget_cache() -> None:
    with _guard:
        _cache.clear()
