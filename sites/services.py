"""Writes for sites, goals, funnels and shared links. Callers pass a site resolved by
`sites.selectors.site_get_for_actor(..., write=True)` or an organization resolved by
`organization_for_actor(..., write=True)`; the services validate every value."""

from __future__ import annotations

import ipaddress
import zoneinfo
from functools import cache
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import selectors as accounts_selectors
from accounts import services as accounts_services
from accounts import tokens
from accounts.errors import ServiceError
from accounts.models import Organization, Role, User
from sites.domains import normalize_domain, normalize_hostname
from sites.funnels import clean_steps, clean_window
from sites.models import Funnel, Goal, SharedLink, Site
from sites.signals import site_deleted

MAX_LIST_ITEMS = 100
MAX_PATH = 300
MAX_EVENT_NAME = 120
MAX_FUNNELS = 20


@cache
def timezone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def clean_timezone(value: str) -> str:
    value = (value or "").strip()
    if value not in timezone_names():
        raise ServiceError(
            f"unknown time zone {value[:64]!r}: use an IANA name like Europe/Berlin",
            field="timezone",
        )
    return value


def _clean_list(values: Any, field: str) -> list[str]:
    if isinstance(values, str):
        values = [line for line in values.replace(",", "\n").splitlines()]
    if not isinstance(values, list | tuple):
        raise ServiceError("expected a list", field=field)
    cleaned = [str(v).strip() for v in values if str(v).strip()]
    if len(cleaned) > MAX_LIST_ITEMS:
        raise ServiceError(f"at most {MAX_LIST_ITEMS} entries", field=field)
    return cleaned


def clean_hostnames(values: Any) -> list[str]:
    items = _clean_list(values, "extra_hostnames")
    return sorted({normalize_hostname(v) for v in items})


def clean_ip_ranges(values: Any) -> list[str]:
    ranges = []
    for item in _clean_list(values, "excluded_ips"):
        try:
            ranges.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ServiceError(
                f"{item[:60]!r} is not an IP address or CIDR range", field="excluded_ips"
            ) from None
    return sorted(set(ranges))


def clean_paths(values: Any, field: str = "excluded_paths") -> list[str]:
    paths = _clean_list(values, field)
    for path in paths:
        if not path.startswith("/") or len(path) > MAX_PATH:
            raise ServiceError(
                f"{path[:60]!r} must start with / and have at most {MAX_PATH} characters",
                field=field,
            )
    return sorted(set(paths))


def _clean_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ServiceError("expected true or false", field=field)


# Without an instance maximum, a retention is still at most a century (dates stay sane).
RETENTION_CEILING_DAYS = 36_500


def retention_max_days() -> int | None:
    """The instance's TRAIL_RETENTION_MAX_DAYS, or None (read when asked, never at import)."""
    return settings.TRAIL.retention_max_days


def clean_retention_days(value: Any) -> int | None:
    """Days a site keeps raw events: a whole number from 1 to the instance maximum, or
    None (also "" from a form) for forever, which the maximum caps when one is set
    (docs/retention.md)."""
    if isinstance(value, str):
        value = value.strip()
        if value.isascii() and value.isdigit() and len(value) <= 9:
            value = int(value)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ServiceError(
            "retention_days must be a whole number of days, or null to keep raw events"
            " as long as allowed",
            field="retention_days",
        )
    limit = retention_max_days()
    if value < 1:
        raise ServiceError("retention_days must be at least 1 day", field="retention_days")
    if value > (limit or RETENTION_CEILING_DAYS):
        what = "this Trail's maximum" if limit else "the longest retention"
        raise ServiceError(
            f"retention_days must be at most {limit or RETENTION_CEILING_DAYS} days"
            f" ({what}); null keeps raw events as long as allowed",
            field="retention_days",
        )
    return value


_CLEANERS = {
    "timezone": clean_timezone,
    "extra_hostnames": clean_hostnames,
    "excluded_ips": clean_ip_ranges,
    "excluded_paths": clean_paths,
    "honor_dnt": lambda v: _clean_bool(v, "honor_dnt"),
    "is_public": lambda v: _clean_bool(v, "is_public"),
    "retention_days": clean_retention_days,
}


def _save_unique(site: Site) -> None:
    try:
        with transaction.atomic():
            site.save()
    except IntegrityError:
        raise ServiceError(
            f"{site.domain} is already registered on this Trail", field="domain"
        ) from None


def site_create(
    *, organization: Organization, domain: str, timezone_name: str = "UTC", **fields: Any
) -> Site:
    site = Site(
        organization=organization,
        domain=normalize_domain(domain),
        timezone=clean_timezone(timezone_name),
    )
    for name, value in fields.items():
        if name not in _CLEANERS:
            raise ServiceError(f"unknown field {name!r}", field=name)
        setattr(site, name, _CLEANERS[name](value))
    if Site.objects.filter(domain=site.domain, deleted_at__isnull=True).exists():
        raise ServiceError(f"{site.domain} is already registered on this Trail", field="domain")
    _save_unique(site)
    return site


def site_update(*, site: Site, **fields: Any) -> Site:
    for name, value in fields.items():
        if name == "domain":
            domain = normalize_domain(value)
            if (
                domain != site.domain
                and Site.objects.filter(domain=domain, deleted_at__isnull=True).exists()
            ):
                raise ServiceError(f"{domain} is already registered on this Trail", field="domain")
            site.domain = domain
        elif name in _CLEANERS:
            setattr(site, name, _CLEANERS[name](value))
        else:
            raise ServiceError(f"unknown field {name!r}", field=name)
    _save_unique(site)
    return site


def site_delete(*, site: Site) -> None:
    """The site disappears at once; its events are deleted by the purge job."""
    site.deleted_at = timezone.now()
    site.save(update_fields=["deleted_at"])
    site_id = site.id
    transaction.on_commit(lambda: site_deleted.send(sender=Site, site_id=site_id))


# Goals


def clean_currency(value: str, kind: str) -> str:
    """A revenue goal's ISO 4217 code (`EUR`), or "" for a goal without revenue; only a
    custom event carries revenue (as in Plausible)."""
    code = (value or "").strip().upper()
    if not code:
        return ""
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ServiceError("a currency is a 3-letter ISO 4217 code like EUR", field="currency")
    if kind != Goal.Kind.EVENT:
        raise ServiceError("only a custom event goal carries revenue", field="currency")
    return code


def _goal_fields(kind: str, value: str, display_name: str, currency: str) -> dict[str, str]:
    """A goal's checked fields, for a new goal and an edited one alike."""
    value = (value or "").strip()
    if kind == Goal.Kind.PAGEVIEW:
        [value] = clean_paths([value], field="value") or [""]
        if not value:
            raise ServiceError("enter a page path like /signup or /blog/*", field="value")
        default_name = f"Visit {value}"
    elif kind == Goal.Kind.EVENT:
        if not value or len(value) > MAX_EVENT_NAME:
            raise ServiceError(f"an event name has 1 to {MAX_EVENT_NAME} characters", field="value")
        default_name = value
    else:
        raise ServiceError("a goal is a pageview or a custom event", field="kind")
    display_name = (display_name or "").strip() or default_name
    if len(display_name) > MAX_EVENT_NAME:
        raise ServiceError(
            f"a goal name has at most {MAX_EVENT_NAME} characters", field="display_name"
        )
    return {
        "kind": kind,
        "value": value,
        "display_name": display_name,
        "currency": clean_currency(currency, kind),
    }


def _save_goal(goal: Goal) -> Goal:
    try:
        with transaction.atomic():
            goal.save()
    except IntegrityError:
        raise ServiceError("this goal exists already", field="value") from None
    return goal


def goal_create(
    *, site: Site, kind: str, value: str, display_name: str = "", currency: str = ""
) -> Goal:
    return _save_goal(Goal(site=site, **_goal_fields(kind, value, display_name, currency)))


def goal_find_or_create(
    *, site: Site, kind: str, value: str, display_name: str = "", currency: str = ""
) -> tuple[Goal, bool]:
    """The site's goal of this kind and value, made (by `goal_create`'s rules) if there is
    none yet; True when it was made. Plausible's `PUT /api/v1/sites/goals`."""
    fields = _goal_fields(kind, value, display_name, currency)
    goal = Goal.objects.filter(site=site, kind=fields["kind"], value=fields["value"]).first()
    if goal is not None:
        return goal, False
    return _save_goal(Goal(site=site, **fields)), True


def goal_update(
    *, site: Site, goal_id: int, kind: str, value: str, display_name: str = "", currency: str = ""
) -> Goal:
    """Change a goal of `site` by the rules of `goal_create`."""
    goal = Goal.objects.filter(site=site, pk=goal_id).first()
    if goal is None:
        raise ServiceError("no such goal", field="goal")
    for name, checked in _goal_fields(kind, value, display_name, currency).items():
        setattr(goal, name, checked)
    return _save_goal(goal)


def _storable(text: str, field: str) -> None:
    """PostgreSQL keeps no NUL character in text or JSON: refuse it here with a 400, not a
    500 at save (a funnel query may still match a NUL, as ClickHouse stores any byte)."""
    if "\x00" in text:
        raise ServiceError("may not contain the NUL character (\\u0000)", field=field)


def _funnel_fields(name: str, steps: object, window: object) -> dict[str, Any]:
    """A funnel's steps (`[{"type": "page" | "event", "value": …}, …]`) and window checked
    by the funnel rules (sites/funnels.py), then its name."""
    checked = clean_steps(steps)
    seconds = clean_window(window)
    name = (name or "").strip()
    if not name or len(name) > MAX_EVENT_NAME:
        raise ServiceError(f"a funnel name has 1 to {MAX_EVENT_NAME} characters", field="name")
    _storable(name, "name")
    for index, step in enumerate(checked):
        _storable(step.value, f"steps[{index}]")
    return {"name": name, "steps": [step.stored() for step in checked], "window": seconds}


def funnel_create(*, site: Site, name: str, steps: object, window: object) -> Funnel:
    """Check a funnel (`_funnel_fields`) and store it."""
    fields = _funnel_fields(name, steps, window)
    if site.funnels.count() >= MAX_FUNNELS:
        raise ServiceError(f"a site has at most {MAX_FUNNELS} funnels", field="name")
    return Funnel.objects.create(site=site, **fields)


def funnel_update(
    *, site: Site, funnel_id: int, name: str, steps: object, window: object
) -> Funnel:
    """Change a funnel of `site` by the rules of `funnel_create`."""
    funnel = Funnel.objects.filter(site=site, pk=funnel_id).first()
    if funnel is None:
        raise ServiceError("no such funnel", field="funnel")
    for key, value in _funnel_fields(name, steps, window).items():
        setattr(funnel, key, value)
    funnel.save()
    return funnel


def funnel_delete(*, site: Site, funnel_id: int) -> None:
    deleted, _ = Funnel.objects.filter(site=site, pk=funnel_id).delete()
    if not deleted:
        raise ServiceError("no such funnel", field="delete")


def goal_delete(*, site: Site, goal_id: int) -> None:
    deleted, _ = Goal.objects.filter(site=site, pk=goal_id).delete()
    if not deleted:
        raise ServiceError("no such goal", field="goal")


# Plausible's custom properties allowlist

MAX_ALLOWED_PROPS = 300
MAX_PROP_KEY_BYTES = 300  # as an event's property key (events/ingest/request.py)


def clean_prop_key(value: Any) -> str:
    """A custom property's key as events carry it: 1 to 300 bytes, no control character."""
    key = value.strip() if isinstance(value, str) else ""
    if not key:
        raise ServiceError("required: a custom property's key", field="property")
    if len(key.encode()) > MAX_PROP_KEY_BYTES:
        raise ServiceError(
            f"a property key has at most {MAX_PROP_KEY_BYTES} bytes", field="property"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise ServiceError("may not contain control characters", field="property")
    return key


@transaction.atomic
def allowed_prop_add(*, site: Site, key: Any) -> bool:
    """Record `key` in the site's custom properties allowlist; True if it was not there."""
    key = clean_prop_key(key)
    locked = Site.objects.select_for_update().get(pk=site.pk)
    if key in locked.allowed_props:
        site.allowed_props = locked.allowed_props
        return False
    if len(locked.allowed_props) >= MAX_ALLOWED_PROPS:
        raise ServiceError(
            f"a site allows at most {MAX_ALLOWED_PROPS} properties", field="property"
        )
    locked.allowed_props = sorted([*locked.allowed_props, key])
    locked.save(update_fields=["allowed_props"])
    site.allowed_props = locked.allowed_props
    return True


@transaction.atomic
def allowed_prop_remove(*, site: Site, key: Any) -> bool:
    """Take `key` out of the site's allowlist; True if it was there."""
    key = clean_prop_key(key)
    locked = Site.objects.select_for_update().get(pk=site.pk)
    if key not in locked.allowed_props:
        return False
    locked.allowed_props = [k for k in locked.allowed_props if k != key]
    locked.save(update_fields=["allowed_props"])
    site.allowed_props = locked.allowed_props
    return True


# Shared links


def shared_link_create(*, site: Site, name: str, password: str = "") -> SharedLink:
    name = (name or "").strip() or "Shared link"
    if len(name) > 100:
        raise ServiceError("a link name has at most 100 characters", field="name")
    if password and len(password) < 8:
        raise ServiceError("a link password has at least 8 characters", field="password")
    return SharedLink.objects.create(
        site=site,
        name=name,
        slug=tokens.new_secret(24),
        password_hash=make_password(password) if password else "",
    )


def shared_link_find_or_create(*, site: Site, name: str) -> tuple[SharedLink, bool]:
    """The site's shared link of this name, made (without a password) if there is none yet;
    True when it was made. Plausible's `PUT /api/v1/sites/shared-links`."""
    name = (name or "").strip()
    if not name:
        raise ServiceError("required: the link's name", field="name")
    link = SharedLink.objects.filter(site=site, name=name).order_by("id").first()
    if link is not None:
        return link, False
    return shared_link_create(site=site, name=name), True


def shared_link_delete(*, site: Site, link_id: int) -> None:
    deleted, _ = SharedLink.objects.filter(site=site, pk=link_id).delete()
    if not deleted:
        raise ServiceError("no such shared link", field="link")


# Plausible's site guests, onto the site organization's members and invitations


# Plausible's guest roles and Trail's: an editor changes the site's settings (Trail's admin).
GUEST_ROLES = {"viewer": Role.VIEWER, "editor": Role.ADMIN}


def guest_invite(*, site: Site, actor: User, email: str, role: str) -> str:
    """Invite `email` to the site's organization in the Trail role of Plausible's guest
    `role` (the invitation's rules: only owners and admins invite); the Trail role."""
    if role not in GUEST_ROLES:
        raise ServiceError("a guest's role is viewer or editor", field="role")
    invitation, _ = accounts_services.invitation_create(
        organization=site.organization, actor=actor, email=email, role=GUEST_ROLES[role]
    )
    return invitation.role


@transaction.atomic
def guest_remove(*, site: Site, actor: User, email: str) -> None:
    """Revoke the organization's pending invitations of `email` and remove its member of
    that address (the membership rules: the last owner stays). Nothing there: nothing."""
    if "\x00" in email:
        return  # no stored address holds a NUL (PostgreSQL keeps none): nobody to remove
    organization = site.organization
    wanted = email.lower()  # exactly the address (no trimming): a near miss removes nobody
    for invitation in accounts_selectors.pending_invitations(organization=organization).filter(
        email__iexact=wanted
    ):
        accounts_services.invitation_revoke(invitation=invitation, actor=actor)
    membership = (
        accounts_selectors.organization_members(organization=organization)
        .filter(user__email__iexact=wanted)
        .first()
    )
    if membership is not None:
        accounts_services.membership_remove(
            organization=organization, actor=actor, user=membership.user
        )
