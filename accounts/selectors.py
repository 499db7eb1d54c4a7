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
