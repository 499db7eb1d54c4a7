"""Limits on guessing a secret: API keys and shared-link passwords.

Failed guesses are counted twice in the one rate limiter (`accounts.ratelimit`): per client
(the address `common.clients` resolves, an IPv6 client by its /64) and per target (a key's
public prefix, a shared link's id), so that neither one client nor many clients sharing
the work can go on guessing. Once either count is used up, every attempt on it answers
`429` with `Retry-After` until its window ends, without checking the secret (which would
cost a password hash, and would tell a guesser when a guess is right). A right secret
within the limits counts nothing.

Each failure is logged on one line naming the target and a pseudonym of the client, never
the secret and never the address (the privacy model keeps raw IPs out of logs).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from dataclasses import dataclass

from django.conf import settings

from accounts.ratelimit import Window, exhausted, hit

logger = logging.getLogger(__name__)


def client_tag(ip: str) -> str:
    """A short keyed hash of the client's network (an IPv6 address by its /64): the same
    client gets the same tag, and the tag does not give the address back without the
    `SECRET_KEY`."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        network = ip
    else:
        prefix = 64 if address.version == 6 else 32
        network = str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
    key = hashlib.sha256(f"trail-client-tag:{settings.SECRET_KEY}".encode()).digest()
    return hashlib.blake2b(network.encode(), key=key, digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class Guard:
    """The limits of one kind of secret. `target` names what is guessed at and may be
    logged (never the secret); an empty target (a malformed key) is counted per client
    only."""

    kind: str
    per_client: Window
    per_target: Window

    def wait(self, *, client_ip: str, target: str) -> int | None:
        """Seconds to wait when the client's or the target's failures are used up, else
        None. Call it before checking the secret."""
        waits = [exhausted(bucket=self._client(client_tag(client_ip)), window=self.per_client)]
        if target:
            waits.append(exhausted(bucket=self._target(target), window=self.per_target))
        return max((w for w in waits if w is not None), default=None)

    def failed(self, *, client_ip: str, target: str) -> None:
        """Count one wrong secret against the client and the target, and log it."""
        tag = client_tag(client_ip)
        hit(bucket=self._client(tag), window=self.per_client)
        if target:
            hit(bucket=self._target(target), window=self.per_target)
        logger.warning("%s: wrong guess on %s from client %s", self.kind, target or "-", tag)

    def _client(self, tag: str) -> str:
        return f"guess:{self.kind}:client:{tag}"

    def _target(self, target: str) -> str:
        return f"guess:{self.kind}:target:{target}"


# A key's secret is 256 random bits, so its limits only stop floods of wrong keys; the
# per-key count lets a person who knows a key's prefix hold that key back for a minute
# at most (decision recorded in docs/accounts.md).
API_KEYS = Guard(
    "api-key",
    per_client=Window(limit=20, seconds=60),
    per_target=Window(limit=60, seconds=60),
)
# A link's password is chosen by a person (8 characters at least): tighter, longer.
SHARED_LINKS = Guard(
    "shared-link",
    per_client=Window(limit=10, seconds=60),
    per_target=Window(limit=30, seconds=900),
)
