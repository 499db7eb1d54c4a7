"""django-allauth's adapter for Trail (settings.ACCOUNT_ADAPTER).

allauth keys its login, sign-up and password-reset rate limits by `get_client_ip`. Its
own guess reads `X-Forwarded-For` by a proxy count, or `REMOTE_ADDR`, which behind a
proxy is the proxy: ten failed logins a minute from anyone would lock everyone out. Trail
answers with the one rule of `common.clients`, the same address ingest and the guessing
limits use.
"""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from common.clients import request_client_ip


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request: HttpRequest) -> str:
        ip = request_client_ip(request.META)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip
