"""The one way to find a site: for an actor (a signed-in user or an API key), or for anyone
at a shared dashboard (a public site, or a shared link's slug).

Another tenant's site is `NotFound` (answered 404, never 403, never data); a member whose
role does not allow a change gets `Forbidden` (403). Scopes of API keys are checked by the
API layer; here a key acts within its organization.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone

from accounts.errors import Forbidden, NotFound, ServiceError
from accounts.models import CAN_MANAGE_SITES, ApiKey, Organization, User
from accounts.selectors import membership_get, organization_members, pending_invitations
from sites.domains import normalize_domain
from sites.models import Funnel, Goal, SharedLink, Site

Actor = User | ApiKey | AnonymousUser


def _live_sites() -> QuerySet[Site]:
    return Site.objects.filter(deleted_at__isnull=True)


def site_get_for_actor(*, actor: Actor, domain: str, write: bool = False) -> Site:
    try:
        canonical = normalize_domain(domain)
    except ServiceError:
        raise NotFound(domain) from None
    site = _live_sites().select_related("organization").filter(domain=canonical).first()
    if site is None:
        raise NotFound(domain)
    if isinstance(actor, ApiKey):
        if not actor.is_active or actor.organization_id != site.organization_id:
            raise NotFound(domain)
        if actor.site_limited and not actor.sites.filter(pk=site.pk).exists():
            raise NotFound(domain)  # a limited key: the same answer as another tenant's site
        return site
    if not actor.is_authenticated:
        raise NotFound(domain)
    membership = membership_get(user=actor, organization_id=site.organization_id)
    if membership is None:
        raise NotFound(domain)
    if write and membership.role not in CAN_MANAGE_SITES:
        raise Forbidden("viewers cannot change a site: ask an owner or admin")
    return site


def site_get_by_public_id_for_actor(*, actor: Actor, public_id: str) -> Site:
    """The live site whose public id (Umami's website id) is `public_id`, by the rules of
    `site_get_for_actor`: anything this actor may not see is `NotFound`, as a made-up id."""
    try:
        parsed = uuid.UUID(public_id)
    except ValueError:
        raise NotFound(public_id) from None
    domain = _live_sites().filter(public_id=parsed).values_list("domain", flat=True).first()
    if domain is None:
        raise NotFound(public_id)
    try:
        return site_get_for_actor(actor=actor, domain=domain)
    except NotFound:
        raise NotFound(public_id) from None


def organization_for_actor(
    *, actor: Actor, organization_id: int | None, write: bool = False
) -> Organization:
    """The organization an actor acts in (a key: its own; a user: a membership)."""
    if isinstance(actor, ApiKey):
        if organization_id is not None and organization_id != actor.organization_id:
            raise NotFound("organization")
        if write and actor.site_limited:
            raise Forbidden("this API key is limited to some sites: it cannot add sites")
        return actor.organization
    if not actor.is_authenticated or organization_id is None:
        raise NotFound("organization")
    membership = membership_get(user=actor, organization_id=organization_id)
    if membership is None:
        raise NotFound("organization")
    if write and membership.role not in CAN_MANAGE_SITES:
        raise Forbidden("viewers cannot add or change sites: ask an owner or admin")
    return membership.organization


def sites_for_actor(*, actor: Actor) -> QuerySet[Site]:
    """Every live site the actor may see: a key's organization's, or a user's memberships'."""
    if isinstance(actor, ApiKey):
        sites = _live_sites().filter(organization_id=actor.organization_id)
        if actor.site_limited:
            sites = sites.filter(pk__in=actor.sites.values("pk"))
        return sites.order_by("domain")
    if not actor.is_authenticated:
        return Site.objects.none()
    return _live_sites().filter(organization__memberships__user=actor).order_by("domain")


def sites_for_organization(*, organization: Organization) -> QuerySet[Site]:
    return _live_sites().filter(organization=organization).order_by("domain")


def shared_site_get(*, domain: str, slug: str) -> tuple[Site, SharedLink | None]:
    """The site a shared dashboard shows, for anyone: with a slug, the site of that live
    shared link (and the link, whose password the caller asks for); without one, the site
    if it is public. Anything else is `NotFound`."""
    try:
        canonical = normalize_domain(domain)
    except ServiceError:  # not a domain: no such dashboard
        raise NotFound(domain) from None
    site = _live_sites().filter(domain=canonical).first()
    if site is None:
        raise NotFound(domain)
    if slug:
        link = SharedLink.objects.filter(site=site, slug=slug).first()
        if link is None:
            raise NotFound(domain)
        return site, link
    if not site.is_public:
        raise NotFound(domain)
    return site, None


def funnels_for_site(*, site: Site) -> list[Funnel]:
    """A site's saved funnels, by name."""
    return list(site.funnels.order_by("name", "id"))


def funnel_get(*, site: Site, funnel_id: int) -> Funnel | None:
    return site.funnels.filter(pk=funnel_id).first()


def goals_for_site(*, site: Site) -> QuerySet[Goal]:
    """A site's goals, by name (the dashboard's order)."""
    return site.goals.order_by("display_name", "id")


def goal_get(*, site: Site, goal_id: int) -> Goal | None:
    return site.goals.filter(pk=goal_id).first()


def shared_links_for_site(*, site: Site) -> QuerySet[SharedLink]:
    """A site's shared links, newest first."""
    return site.shared_links.order_by("-created_at", "-id")


def shared_link_url(*, site: Site, link: SharedLink) -> str:
    """The address of a shared link's dashboard (what the shared links page shows)."""
    return f"{settings.TRAIL.base_url}/share/{site.domain}?auth={link.slug}"


def shared_link_get(*, site: Site, link_id: int) -> SharedLink | None:
    return site.shared_links.filter(pk=link_id).first()


@dataclass(frozen=True)
class Guest:
    """Someone who may see a site, as Plausible's guests API lists them: a member of the
    site's organization (accepted) or a live invitation to it (not accepted yet)."""

    email: str
    role: str  # Trail's role (accounts.models.Role)
    accepted: bool


def guests_for_site(*, site: Site) -> list[Guest]:
    """The site organization's members (by joining), then its live invitations (newest
    first): Trail's people belong to the organization, so each of them sees every site."""
    members = [
        Guest(email=m.user.email, role=m.role, accepted=True)
        for m in organization_members(organization=site.organization)
    ]
    member_emails = {guest.email.lower() for guest in members}
    invited = [
        Guest(email=i.email, role=i.role, accepted=False)
        for i in pending_invitations(organization=site.organization).filter(
            expires_at__gt=timezone.now()
        )
        if i.email.lower() not in member_emails
    ]
    unique: dict[str, Guest] = {}
    for guest in invited:  # the newest invitation of an address
        unique.setdefault(guest.email.lower(), guest)
    return members + list(unique.values())


def guest_get(*, site: Site, email: str) -> Guest | None:
    wanted = email.strip().lower()
    return next((g for g in guests_for_site(site=site) if g.email.lower() == wanted), None)
