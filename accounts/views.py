"""The Django admin's login page, replaced: the admin signs in through Trail's login.

Django's own `/admin/login/` checks a password with no rate limit and lets in an address
that was never verified. Here it only sends the browser to allauth's login (its rate
limits, mandatory verification), with `next` pointing back into the admin; the admin's
staff check applies once the person is signed in.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods


@require_http_methods(["GET", "HEAD", "POST"])
def admin_login(request: HttpRequest) -> HttpResponseRedirect:
    """Never signs anyone in. Anonymous: to the Trail login. Signed in as staff: on to
    `next`. Signed in without staff rights: 403 (sending them to a login again would loop)."""
    target = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("admin:index")
    user = request.user
    if user.is_authenticated:
        if user.is_active and user.is_staff:
            return HttpResponseRedirect(target)
        raise PermissionDenied("this account may not use the admin site")
    return HttpResponseRedirect(f"{reverse('account_login')}?{urlencode({'next': target})}")
