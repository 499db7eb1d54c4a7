"""allauth's adapter (accounts/adapter.py): its rate limits see Trail's client address."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_network
from typing import Any

import pytest
from allauth.account.adapter import get_adapter
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from accounts.adapter import AccountAdapter


def test_allauth_uses_trails_adapter() -> None:
    assert isinstance(get_adapter(), AccountAdapter)


def test_the_client_ip_is_trails(settings: Any) -> None:
    factory = RequestFactory()
    request = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7")
    adapter = AccountAdapter(request)
    assert adapter.get_client_ip(request) == "10.0.0.2"  # no trusted proxy: the peer
    settings.TRAIL = replace(
        settings.TRAIL,
        ingest=replace(settings.TRAIL.ingest, trusted_proxies=(ip_network("10.0.0.0/8"),)),
    )
    assert adapter.get_client_ip(request) == "198.51.100.7"  # the right-most untrusted hop
    request.META.pop("REMOTE_ADDR")
    with pytest.raises(PermissionDenied):
        adapter.get_client_ip(request)
