"""Writes for people, organizations, invitations and API keys."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts import selectors, tokens
from accounts.errors import Forbidden, ServiceError
from accounts.models import (
    CAN_MANAGE_MEMBERS,
    CAN_MANAGE_OWNERS,
    ApiKey,
    Invitation,
    Membership,
    Organization,
    Role,
    Scope,
    User,
)
from accounts.signals import organization_deleting

INVITATION_LIFETIME = dt.timedelta(days=7)
API_KEY_PREFIX = "trail_"
API_KEY_PREFIX_PATTERN = re.compile(r"[A-Za-z0-9]{1,16}")  # as ApiKey.prefix holds them


# Organizations and memberships


@transaction.atomic
def organization_create(*, name: str, owner: User) -> Organization:
    name = name.strip()
    if not name:
        raise ServiceError("an organization needs a name", field="name")
    if len(name) > 100:
        raise ServiceError("an organization name has at most 100 characters", field="name")
    organization = Organization.objects.create(name=name)
    Membership.objects.create(user=owner, organization=organization, role=Role.OWNER)
    return organization


def organization_ensure_for_user(*, user: User) -> Organization:
    """The user's first organization, created ("<email>'s sites") if they have none."""
    membership = selectors.memberships_for_user(user=user).first()
    if membership is not None:
        return membership.organization
    return organization_create(name=f"{user.email}'s sites"[:100], owner=user)


def _require_role(*, actor: User, organization: Organization, roles: frozenset[Role]) -> Membership:
    membership = selectors.membership_get(user=actor, organization_id=organization.id)
    if membership is None or membership.role not in roles:
        raise Forbidden("your role in this organization does not allow this")
    return membership


@transaction.atomic
def organization_delete(*, organization: Organization, actor: User) -> None:
    """Delete an organization (its owners only): its memberships, invitations and API keys
    go at once; `organization_deleting` lets the layers above remove what they keep (its
    sites are deleted, their events, visits, imports and exports purged by the site purge
    job); the row itself goes once no site of it is left."""
    _require_role(actor=actor, organization=organization, roles=CAN_MANAGE_OWNERS)
    _organization_delete(organization)


def _organization_delete(organization: Organization) -> None:
    organization_deleting.send(sender=Organization, organization_id=organization.pk)
    organization.invitations.all().delete()
    organization.api_keys.all().delete()
    organization.memberships.all().delete()
    organization.deleted_at = timezone.now()
    organization.save(update_fields=["deleted_at"])


@transaction.atomic
def user_delete(*, user: User) -> list[Organization]:
    """Delete a person's account: the organizations they alone own are deleted with it (as
    `organization_delete`), their other memberships end; the organizations deleted."""
    deleted = []
    for membership in selectors.memberships_for_user(user=user).select_related("organization"):
        organization = membership.organization
        if membership.role == Role.OWNER and selectors.owners_count(organization=organization) == 1:
            _organization_delete(organization)
            deleted.append(organization)
    Invitation.objects.filter(email__iexact=user.email, accepted_at__isnull=True).delete()
    user.delete()
    return deleted


@transaction.atomic
def membership_set_role(
    *, organization: Organization, actor: User, user: User, role: str
) -> Membership:
    if role not in Role.values:
        raise ServiceError(f"unknown role {role!r}", field="role")
    acting = _require_role(actor=actor, organization=organization, roles=CAN_MANAGE_MEMBERS)
    target = selectors.membership_get(user=user, organization_id=organization.id)
    if target is None:
        raise ServiceError("that person is not a member", field="user")
    if (Role.OWNER in (role, target.role)) and acting.role not in CAN_MANAGE_OWNERS:
        raise Forbidden("only an owner can grant or take away ownership")
    if (
        target.role == Role.OWNER
        and role != Role.OWNER
        and selectors.owners_count(organization=organization) == 1
    ):
        raise ServiceError("an organization needs at least one owner", field="role")
    target.role = role
    target.save(update_fields=["role"])
    return target


@transaction.atomic
def membership_remove(*, organization: Organization, actor: User, user: User) -> None:
    """Remove `user` (or leave, when actor is user). The last owner cannot go."""
    target = selectors.membership_get(user=user, organization_id=organization.id)
    if target is None:
        raise ServiceError("that person is not a member", field="user")
    if actor.pk != user.pk:
        acting = _require_role(actor=actor, organization=organization, roles=CAN_MANAGE_MEMBERS)
        if target.role == Role.OWNER and acting.role not in CAN_MANAGE_OWNERS:
            raise Forbidden("only an owner can remove an owner")
    if target.role == Role.OWNER and selectors.owners_count(organization=organization) == 1:
        raise ServiceError(
            "the last owner cannot leave: transfer ownership to another member first", field="user"
        )
    target.delete()


@transaction.atomic
def ownership_transfer(*, organization: Organization, actor: User, to_user: User) -> None:
    """Make `to_user` (a member) an owner and the acting owner an admin."""
    acting = _require_role(actor=actor, organization=organization, roles=CAN_MANAGE_OWNERS)
    target = selectors.membership_get(user=to_user, organization_id=organization.id)
    if target is None:
        raise ServiceError("ownership can only go to a member of this organization", field="user")
    if target.pk == acting.pk:
        raise ServiceError("you are already an owner", field="user")
    target.role = Role.OWNER
    target.save(update_fields=["role"])
    acting.role = Role.ADMIN
    acting.save(update_fields=["role"])


# Invitations


def _clean_email(email: str) -> str:
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ServiceError("enter a valid email address", field="email") from None
    return email


@transaction.atomic
def invitation_create(
    *, organization: Organization, actor: User, email: str, role: str
) -> tuple[Invitation, str]:
    """Create an invitation and email its link; the invitation and the raw token."""
    acting = _require_role(actor=actor, organization=organization, roles=CAN_MANAGE_MEMBERS)
    email = _clean_email(email)
    if role not in Role.values:
        raise ServiceError(f"unknown role {role!r}", field="role")
    if role == Role.OWNER and acting.role not in CAN_MANAGE_OWNERS:
        raise Forbidden("only an owner can invite another owner")
    if organization.memberships.filter(user__email__iexact=email).exists():
        raise ServiceError(f"{email} is already a member", field="email")
    token = tokens.new_secret()
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        token_hash=tokens.digest(token),
        invited_by=actor,
        expires_at=timezone.now() + INVITATION_LIFETIME,
    )
    link = settings.TRAIL.base_url + reverse("invitation-accept", args=[token])
    transaction.on_commit(
        lambda: send_mail(
            subject=f"[Trail] {actor.email} invited you to {organization.name}",
            message=(
                f"{actor.email} invited you to join {organization.name} on Trail as {role}.\n\n"
                f"Accept the invitation (valid for 7 days, once):\n{link}\n"
            ),
            from_email=None,
            recipient_list=[email],
        )
    )
    return invitation, token


def invitation_get(*, token: str) -> Invitation:
    """The pending invitation for a raw token; a clear error if it cannot be used."""
    invitation = (
        Invitation.objects.select_related("organization")
        .filter(token_hash=tokens.digest(token))
        .first()
    )
    if invitation is None:
        raise ServiceError("this invitation link is not valid", field="token")
    if invitation.accepted_at is not None:
        raise ServiceError("this invitation has already been used", field="token")
    if invitation.expires_at <= timezone.now():
        raise ServiceError("this invitation has expired: ask for a new one", field="token")
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user: User) -> Membership:
    invitation = invitation_get(token=token)
    # Lock the row so two clicks cannot both accept it.
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise ServiceError("this invitation has already been used", field="token")
    if invitation.email.lower() != user.email.lower():
        raise ServiceError(
            f"this invitation was sent to {invitation.email}: sign in with that address",
            field="token",
        )
    membership, _ = Membership.objects.get_or_create(
        user=user, organization=invitation.organization, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: User) -> None:
    _require_role(actor=actor, organization=invitation.organization, roles=CAN_MANAGE_MEMBERS)
    invitation.delete()


# API keys


def _clean_scopes(scopes: Iterable[str]) -> list[str]:
    cleaned = sorted({s.strip() for s in scopes if s.strip()})
    if not cleaned:
        raise ServiceError("choose at least one scope", field="scopes")
    unknown = [s for s in cleaned if s not in Scope.values]
    if unknown:
        raise ServiceError(
            f"unknown scope {unknown[0]!r}: use {', '.join(Scope.values)}", field="scopes"
        )
    return cleaned


@transaction.atomic
def api_key_create(
    *,
    organization: Organization,
    actor: User,
    name: str,
    scopes: Iterable[str],
    sites: Sequence[Any] | None = None,
    granting_key: ApiKey | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its raw value (shown once). Owners and admins create keys.

    `sites` (resolved by the caller for this organization) limits the key to them; None or
    empty leaves it unlimited. A key made by another key (`granting_key`, through the API)
    gets no scope that key lacks. A site-limited key cannot manage members or keys: they
    belong to the whole organization."""
    _require_role(actor=actor, organization=organization, roles=CAN_MANAGE_MEMBERS)
    name = name.strip()
    if not name or len(name) > 100:
        raise ServiceError("a key needs a name of 1 to 100 characters", field="name")
    cleaned = _clean_scopes(scopes)
    if granting_key is not None:
        beyond = [s for s in cleaned if not granting_key.has_scope(s)]
        if beyond:
            raise Forbidden(f"this API key cannot grant the {beyond[0]} scope it lacks")
    limited = list(sites or [])
    if any(site.organization_id != organization.id for site in limited):
        raise ServiceError("a key can only be limited to this organization's sites", field="sites")
    if limited and ({Scope.MEMBERS_READ, Scope.MEMBERS_MANAGE} & set(cleaned)):
        raise ServiceError(
            "a key limited to some sites cannot read or manage members and keys", field="scopes"
        )
    prefix = tokens.new_secret(6)[:8].replace("-", "x").replace("_", "y")
    secret = tokens.new_secret()
    raw = f"{API_KEY_PREFIX}{prefix}_{secret}"
    key = ApiKey.objects.create(
        organization=organization,
        created_by=actor,
        name=name,
        prefix=prefix,
        key_hash=tokens.digest(raw),
        scopes=cleaned,
        site_limited=bool(limited),
    )
    if limited:
        key.sites.set(limited)
    return key, raw


def api_key_revoke(*, key: ApiKey, actor: User) -> None:
    _require_role(actor=actor, organization=key.organization, roles=CAN_MANAGE_MEMBERS)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])


LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def api_key_prefix(raw: str) -> str:
    """The public prefix of a raw key (`trail_<prefix>_<secret>`), or "" when the value is
    not shaped like a key."""
    if not raw.startswith(API_KEY_PREFIX):
        return ""
    prefix, sep, _ = raw[len(API_KEY_PREFIX) :].partition("_")
    return prefix if sep and API_KEY_PREFIX_PATTERN.fullmatch(prefix) else ""


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The active key for a raw value, or None. Records use at most once a minute."""
    prefix = api_key_prefix(raw)
    if not prefix:
        return None
    key = ApiKey.objects.select_related("organization").filter(prefix=prefix).first()
    if key is None or not tokens.matches(raw, key.key_hash) or not key.is_active:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
