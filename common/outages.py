"""A backend a caller can go on without (fail open), asked again only after a rest.

After a failure the backend is left alone for `rest` seconds — a down Redis then costs no
request its connect timeout — and failures are logged at most once per `warn_every`
seconds, not once per request. Used by the API keys' limits (`accounts.ratelimit`) and the
ingest rate limit (`events.limits.ratelimit`); each logs through its own logger.
"""

from __future__ import annotations

import logging
import threading
import time


class Outage:
    def __init__(
        self, logger: logging.Logger, message: str, *, rest: float, warn_every: float = 60.0
    ) -> None:
        """`message` is a %-format of two values: the error (`Type: text`) and `rest`."""
        self.logger = logger
        self.message = message
        self.rest = rest
        self.warn_every = warn_every
        self._resting_until = float("-inf")
        self._warned_at = float("-inf")
        self._guard = threading.Lock()

    def resting(self) -> bool:
        """Is the backend to be left alone now (it failed less than `rest` seconds ago)?"""
        return time.monotonic() < self._resting_until

    def failed(self, error: BaseException) -> None:
        """The backend failed: rest it, and say so unless that was said recently."""
        now = time.monotonic()
        with self._guard:
            self._resting_until = now + self.rest
            warn = now - self._warned_at >= self.warn_every
            if warn:
                self._warned_at = now
        if warn:
            self.logger.warning(self.message, f"{type(error).__name__}: {error}", self.rest)

    def clear(self) -> None:
        """Forget the failure and its warning: the next use asks the backend."""
        with self._guard:
            self._resting_until = float("-inf")
            self._warned_at = float("-inf")
