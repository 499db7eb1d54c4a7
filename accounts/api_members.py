"""REST API for an organization's people, through the services the organization page uses:

    GET            /api/v1/members                  members and their roles
    PUT/DELETE     /api/v1/members/{user_id}        change a role, remove
    GET/POST       /api/v1/invitations              pending invitations, invite by email
    DELETE         /api/v1/invitations/{id}         revoke

Scopes for API keys: `members:read` to read, `members:manage` to write. Which organization: a
key's own; a signed-in member's `organization_id` (query), needed only when they belong to
several. Who acts: the signed-in person, or for a key the person who made it, with the role
they have now (a key never does more than its maker may: owner-only changes stay owner-only,
and a maker who left or became a viewer leaves the key unable to manage members).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors, services
from accounts.api import TrailApiView
from accounts.api_shared import error_responses, object_id
from accounts.errors import Forbidden, NotFound, ServiceError
from accounts.models import ApiKey, Invitation, Membership, Organization, Role, Scope, User

ORGANIZATION_ID = OpenApiParameter(
    "organization_id",
    int,
    OpenApiParameter.QUERY,
    description="for a signed-in member of several organizations; a key acts in its own",
)


def organization_of(request: Request) -> Organization:
    """The organization a request acts in (module docstring); another one is not found."""
    if isinstance(request.auth, ApiKey):
        return request.auth.organization
    user = request.user
    if not isinstance(user, User):
        raise NotFound("organization")
    wanted = request.query_params.get("organization_id")
    memberships = list(selectors.memberships_for_user(user=user))
    if wanted:
        chosen = [m for m in memberships if str(m.organization_id) == wanted]
        if not chosen:
            raise NotFound("organization")
        return chosen[0].organization
    if len(memberships) != 1:
        raise ServiceError(
            "required: you belong to several organizations (or none)", field="organization_id"
        )
    return memberships[0].organization


def acting_user(request: Request) -> User:
    """Who makes a change: the signed-in person, or the maker of the key (module docstring)."""
    if isinstance(request.auth, ApiKey):
        maker = request.auth.created_by
        if maker is None:
            raise Forbidden("the person who made this API key no longer exists")
        return maker
    user = request.user
    if not isinstance(user, User):
        raise NotFound("organization")
    return user


class MemberSerializer(serializers.Serializer[Any]):
    user_id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)
    joined_at = serializers.DateTimeField()


def member_json(membership: Membership) -> dict[str, Any]:
    return {
        "user_id": membership.user_id,
        "email": membership.user.email,
        "role": membership.role,
        "joined_at": serializers.DateTimeField().to_representation(membership.created_at),
    }


MEMBER_EXAMPLE = {
    "user_id": 4,
    "email": "ada@example.com",
    "role": "admin",
    "joined_at": "2026-12-01T09:30:00Z",
}


class MembersList(serializers.Serializer[Any]):
    members = MemberSerializer(many=True)


class MembersView(TrailApiView):
    required_scope = Scope.MEMBERS_MANAGE
    read_scope = Scope.MEMBERS_READ

    @extend_schema(
        parameters=[ORGANIZATION_ID],
        responses={200: MembersList, **error_responses(400, 404)},
        operation_id="members_list",
        summary="The organization's members",
        examples=[
            OpenApiExample("members", value={"members": [MEMBER_EXAMPLE]}, response_only=True)
        ],
    )
    def get(self, request: Request) -> Response:
        members = selectors.organization_members(organization=organization_of(request))
        return Response({"members": [member_json(m) for m in members]})


class RoleSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=Role.choices)


USER_ID = OpenApiParameter(
    "user_id",
    int,
    OpenApiParameter.PATH,
    description="the member's id",
    examples=[OpenApiExample("a member", value=4)],
)


def _member(organization: Organization, user_id: str) -> User:
    user = selectors.member_get(organization=organization, user_id=object_id(user_id, "member"))
    if user is None:
        raise NotFound("member")
    return user


class MemberView(TrailApiView):
    required_scope = Scope.MEMBERS_MANAGE

    @extend_schema(
        parameters=[USER_ID, ORGANIZATION_ID],
        request=RoleSerializer,
        responses={200: MemberSerializer, **error_responses(400, 404)},
        operation_id="member_update",
        summary="Change a member's role",
        description="Owners and admins change roles; only an owner grants or takes away"
        " ownership, and the last owner stays one.",
        examples=[
            OpenApiExample("make admin", value={"role": "admin"}, request_only=True),
            OpenApiExample("the member", value=MEMBER_EXAMPLE, response_only=True),
        ],
    )
    def put(self, request: Request, user_id: str) -> Response:
        organization = organization_of(request)
        user = _member(organization, user_id)
        serializer = RoleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.membership_set_role(
            organization=organization,
            actor=acting_user(request),
            user=user,
            role=serializer.validated_data["role"],
        )
        return Response(member_json(membership))

    @extend_schema(
        parameters=[USER_ID, ORGANIZATION_ID],
        responses={204: None, **error_responses(400, 404)},
        operation_id="member_delete",
        summary="Remove a member",
        description="Owners and admins remove members (an owner only by an owner); anyone may"
        " remove themselves, except the last owner.",
    )
    def delete(self, request: Request, user_id: str) -> Response:
        organization = organization_of(request)
        user = _member(organization, user_id)
        services.membership_remove(organization=organization, actor=acting_user(request), user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)
    invited_by = serializers.EmailField(allow_null=True)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class InviteSerializer(serializers.Serializer[Any]):
    email = serializers.CharField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)


def invitation_json(invitation: Invitation) -> dict[str, Any]:
    when = serializers.DateTimeField()
    return {
        "id": invitation.pk,
        "email": invitation.email,
        "role": invitation.role,
        "invited_by": invitation.invited_by.email if invitation.invited_by else None,
        "created_at": when.to_representation(invitation.created_at),
        "expires_at": when.to_representation(invitation.expires_at),
    }


INVITATION_EXAMPLE = {
    "id": 9,
    "email": "grace@example.com",
    "role": "viewer",
    "invited_by": "ada@example.com",
    "created_at": "2026-12-01T09:30:00Z",
    "expires_at": "2026-12-08T09:30:00Z",
}


class InvitationsList(serializers.Serializer[Any]):
    invitations = InvitationSerializer(many=True)


class InvitationsView(TrailApiView):
    required_scope = Scope.MEMBERS_MANAGE
    read_scope = Scope.MEMBERS_READ

    @extend_schema(
        parameters=[ORGANIZATION_ID],
        responses={200: InvitationsList, **error_responses(400, 404)},
        operation_id="invitations_list",
        summary="Pending invitations",
        examples=[
            OpenApiExample(
                "invitations", value={"invitations": [INVITATION_EXAMPLE]}, response_only=True
            )
        ],
    )
    def get(self, request: Request) -> Response:
        pending = selectors.pending_invitations(organization=organization_of(request))
        return Response({"invitations": [invitation_json(i) for i in pending]})

    @extend_schema(
        parameters=[ORGANIZATION_ID],
        request=InviteSerializer,
        responses={201: InvitationSerializer, **error_responses(400, 404)},
        operation_id="invitations_create",
        summary="Invite someone by email",
        description="The link goes by email to the invitee only (valid 7 days, once); it is"
        " not in the answer. Only an owner invites an owner.",
        examples=[
            OpenApiExample(
                "a viewer",
                value={"email": "grace@example.com", "role": "viewer"},
                request_only=True,
            ),
            OpenApiExample(
                "the invitation",
                value=INVITATION_EXAMPLE,
                response_only=True,
                status_codes=[201],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        organization = organization_of(request)
        serializer = InviteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation, _ = services.invitation_create(
            organization=organization,
            actor=acting_user(request),
            email=serializer.validated_data["email"],
            role=serializer.validated_data["role"],
        )
        return Response(invitation_json(invitation), status=status.HTTP_201_CREATED)


class InvitationView(TrailApiView):
    required_scope = Scope.MEMBERS_MANAGE

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "invitation_id",
                int,
                OpenApiParameter.PATH,
                description="the invitation's id",
                examples=[OpenApiExample("an invitation", value=9)],
            ),
            ORGANIZATION_ID,
        ],
        responses={204: None, **error_responses(400, 404)},
        operation_id="invitation_delete",
        summary="Revoke an invitation",
    )
    def delete(self, request: Request, invitation_id: str) -> Response:
        organization = organization_of(request)
        invitation = selectors.invitation_get_pending(
            organization=organization, invitation_id=object_id(invitation_id, "invitation")
        )
        if invitation is None:
            raise NotFound("invitation")
        services.invitation_revoke(invitation=invitation, actor=acting_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
