"""Reads about people, organizations and keys; every tenancy question is answered here."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import ApiKey, Invitation, Membership, Organization, Role, User


def membership_get(*, user: User, organization_id: int) -> Membership | None:
    return (
        Membership.objects.select_related("organization")
        .filter(user=user, organization_id=organization_id)
        .first()
    )


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user)
        .select_related("organization")
        .order_by("created_at", "id")
    )


def organization_members(*, organization: Organization) -> QuerySet[Membership]:
    return organization.memberships.select_related("user").order_by("created_at", "id")


def owners_count(*, organization: Organization) -> int:
    return organization.memberships.filter(role=Role.OWNER).count()


def pending_invitations(*, organization: Organization) -> QuerySet[Invitation]:
    return (
        organization.invitations.filter(accepted_at__isnull=True)
        .select_related("invited_by")
        .order_by("-created_at")
    )


def api_keys_for_organization(*, organization: Organization) -> QuerySet[ApiKey]:
    """The organization's keys, newest first, with their creators and site limits."""
    return (
        organization.api_keys.select_related("created_by")
        .prefetch_related("sites")
        .order_by("-created_at", "-id")
    )


def api_key_get(*, organization: Organization, key_id: int) -> ApiKey | None:
    return organization.api_keys.filter(pk=key_id).first()


def invitation_get_pending(*, organization: Organization, invitation_id: int) -> Invitation | None:
    return pending_invitations(organization=organization).filter(pk=invitation_id).first()


def member_get(*, organization: Organization, user_id: int) -> User | None:
    """A member of the organization by user id (None for anyone else: not found)."""
    membership = organization.memberships.select_related("user").filter(user_id=user_id).first()
    return membership.user if membership is not None else None


def _iso(moment: object) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None  # type: ignore[attr-defined]


def personal_data(*, user: User) -> dict[str, object]:
    """A person's own account record ("Download my data"): who they are, their memberships,
    the API keys they made (names and scopes, never a secret or its hash), the invitations
    they sent and those sent to their address. The layers above add what they keep of the
    person (the deletions they made: reports/deletions_api.py)."""
    keys = ApiKey.objects.filter(created_by=user).select_related("organization").order_by("id")
    sent = Invitation.objects.filter(invited_by=user).select_related("organization")
    received = Invitation.objects.filter(email__iexact=user.email).select_related("organization")
    return {
        "email": user.email,
        "name": user.get_full_name(),
        "date_joined": _iso(user.date_joined),
        "last_login": _iso(user.last_login),
        "memberships": [
            {
                "organization": m.organization.name,
                "organization_id": m.organization_id,
                "role": m.role,
                "since": _iso(m.created_at),
            }
            for m in memberships_for_user(user=user)
        ],
        "api_keys": [
            {
                "name": k.name,
                "prefix": k.prefix,
                "organization": k.organization.name,
                "scopes": list(k.scopes),
                "created_at": _iso(k.created_at),
                "last_used_at": _iso(k.last_used_at),
                "revoked_at": _iso(k.revoked_at),
            }
            for k in keys
        ],
        "invitations_sent": [
            {
                "email": i.email,
                "organization": i.organization.name,
                "role": i.role,
                "created_at": _iso(i.created_at),
                "accepted_at": _iso(i.accepted_at),
            }
            for i in sent.order_by("id")
        ],
        "invitations_received": [
            {
                "organization": i.organization.name,
                "role": i.role,
                "created_at": _iso(i.created_at),
                "accepted_at": _iso(i.accepted_at),
            }
            for i in received.order_by("id")
        ],
    }
