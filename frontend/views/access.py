"""Who may see a dashboard, and the URLs that carry it: a member of the site's organization
(`/sites/<domain>/`), or anyone at `/share/<domain>` when the site is public or with a
live shared link's `?auth=<slug>` (and its password, once per browser session)."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from accounts.errors import NotFound
from frontend.views.helpers import user_of
from sites import selectors
from sites.models import SharedLink, Site


@dataclass(frozen=True)
class Access:
    site: Site
    base: str  # URL prefix of the dashboard and its panels
    auth: str = ""  # a shared link's slug, carried in every URL
    member: bool = False

    def query(self, params: str) -> str:
        return f"{params}&auth={self.auth}" if self.auth else params


def member(request: HttpRequest, domain: str) -> Access:
    site = selectors.site_get_for_actor(actor=user_of(request), domain=domain)
    return Access(site=site, base=f"/sites/{site.domain}", member=True)


def session_key(link: SharedLink) -> str:
    return f"trail:share:{link.pk}"


def visitor(request: HttpRequest, domain: str) -> tuple[Access, SharedLink | None]:
    """A shared dashboard's access and its shared link (None for a public site), before
    any password; `NotFound` when there is nothing to see."""
    slug = request.GET.get("auth", "")
    site, link = selectors.shared_site_get(domain=domain, slug=slug)
    return Access(site=site, base=f"/share/{site.domain}", auth=slug), link


def locked(request: HttpRequest, link: SharedLink | None) -> bool:
    """A shared link with a password not yet given in this browser session."""
    return link is not None and link.has_password and not request.session.get(session_key(link))


def shared(request: HttpRequest, domain: str) -> Access:
    """A shared dashboard's access for its panels and exports: the password given first."""
    access, link = visitor(request, domain)
    if locked(request, link):
        raise NotFound(domain)
    return access
