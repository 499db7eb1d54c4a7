"""One holder at a time, across Trail's processes: the flush, a destination's sender, the
periodic backup.

In services mode the holder is whoever holds a Redis lock (`cache.lock`, a lease of
`lease` seconds, so a holder that dies frees it); in embedded mode there is one process,
and a lock of that process does. `held(name, lease)` never waits: it yields a function
that renews the lease (False once the lease was lost: another holder may have it now;
stop), or None when someone else holds it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from django.conf import settings

_local: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def _renewer(lock: object) -> Callable[[], bool]:
    from redis.exceptions import LockError

    def renew() -> bool:
        try:
            return bool(lock.reacquire())  # type: ignore[attr-defined]
        except LockError:  # the lease ran out: another holder may have it
            return False

    return renew


@contextlib.contextmanager
def held(name: str, lease: float) -> Iterator[Callable[[], bool] | None]:
    if settings.TRAIL.services_mode:
        from django.core.cache import cache

        lock = cache.lock(name, timeout=lease)  # type: ignore[attr-defined]
        if not lock.acquire(blocking=False):
            yield None
            return
        try:
            yield _renewer(lock)
        finally:
            with contextlib.suppress(Exception):  # expired meanwhile: nothing to release
                lock.release()
        return
    with _guard:
        local = _local.setdefault(name, threading.Lock())
    if not local.acquire(blocking=False):
        yield None
        return
    try:
        yield lambda: True
    finally:
        local.release()
