"""Plausible's site guests, in Plausible's requests and shapes, onto Trail's people:

    GET    /api/v1/sites/guests?site_id=      {"guests": [{email, role, accepted, status}], "meta"}
    PUT    /api/v1/sites/guests               {site_id, email, role: viewer | editor}: found,
                                              or invited by email
    DELETE /api/v1/sites/guests/{email}       site_id in the query or body: {"deleted": true}

Trail's people belong to an organization, not to a site: a guest is a member of the site's
organization (accepted) or a live invitation to it, and an invited guest sees every site of
that organization (docs/plausible-sites-api.md). Roles: Plausible's viewer is Trail's viewer,
its editor Trail's admin; Trail's owners are listed as `owner`. Scopes: `members:read` to
list, `members:manage` to invite or remove (as Trail's own members API: a guest is a member);
who acts is the signed-in person or the key's maker, with the role they have now.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import TrailApiView
from accounts.api_members import acting_user
from accounts.api_shared import PageMeta, error_responses
from accounts.errors import ServiceError
from accounts.models import Role, Scope
from sites import selectors, services
from sites.api import PARSERS, Deleted
from sites.api_items import json_object, validated
from sites.api_plausible import DELETED, SITE_ID, SITE_ID_OF_DELETE, site_named, site_of_delete

# Trail's roles in Plausible's words (the way back: services.GUEST_ROLES).
PLAUSIBLE_ROLES = {Role.VIEWER: "viewer", Role.ADMIN: "editor", Role.OWNER: "owner"}


class PlausibleGuest(serializers.Serializer[Any]):
    email = serializers.CharField()
    role = serializers.CharField(help_text="viewer, editor (Trail's admin) or owner")
    accepted = serializers.BooleanField()
    status = serializers.ChoiceField(choices=["accepted", "invited"])


class PlausibleGuestsPage(serializers.Serializer[Any]):
    guests = PlausibleGuest(many=True)
    meta = PageMeta()


class PlausibleGuestWrite(serializers.Serializer[Any]):
    site_id = serializers.CharField(max_length=2000, help_text="the site's domain")
    email = serializers.CharField(max_length=254)
    role = serializers.CharField(max_length=20, help_text="viewer or editor (Trail's admin)")


def guest_json(email: str, role: str, accepted: bool) -> dict[str, Any]:
    return {
        "email": email,
        "role": PLAUSIBLE_ROLES.get(Role(role), "viewer"),
        "accepted": accepted,
        "status": "accepted" if accepted else "invited",
    }


GUEST_EXAMPLE = {
    "email": "grace@example.com",
    "role": "viewer",
    "accepted": False,
    "status": "invited",
}


class PlausibleGuestsView(TrailApiView):
    required_scope = Scope.MEMBERS_MANAGE
    read_scope = Scope.MEMBERS_READ
    parser_classes = PARSERS

    @extend_schema(
        parameters=[SITE_ID],
        responses={200: PlausibleGuestsPage, **error_responses(400, 404)},
        operation_id="plausible_guests_list",
        summary="Who may see a site (Plausible's guests)",
        description="The members of the site's organization (`accepted`), then its live"
        " invitations; one page holding everyone (`meta.after` is null).",
        examples=[
            OpenApiExample(
                "guests",
                value={
                    "guests": [
                        {
                            "email": "ada@example.com",
                            "role": "editor",
                            "accepted": True,
                            "status": "accepted",
                        },
                        GUEST_EXAMPLE,
                    ],
                    "meta": {"after": None, "before": None, "limit": 100},
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        site = site_named(request, request.query_params, write=False)
        guests = selectors.guests_for_site(site=site)
        return Response(
            {
                "guests": [guest_json(g.email, g.role, g.accepted) for g in guests],
                "meta": {"after": None, "before": None, "limit": max(100, len(guests))},
            }
        )

    @extend_schema(
        request=PlausibleGuestWrite,
        responses={200: PlausibleGuest, **error_responses(400, 403, 404)},
        operation_id="plausible_guests_find_or_invite",
        summary="Find or invite a guest (Plausible)",
        description="Someone who may already see the site is answered as they are (their"
        " role unchanged); anyone else is invited by email to the site's organization, as a"
        " viewer or (Plausible's editor) an admin, and sees all of its sites once they accept.",
        examples=[
            OpenApiExample(
                "a viewer",
                value={"site_id": "example.com", "email": "grace@example.com", "role": "viewer"},
                request_only=True,
            ),
            OpenApiExample("the guest", value=GUEST_EXAMPLE, response_only=True),
        ],
    )
    def put(self, request: Request) -> Response:
        body = json_object(request)
        site = site_named(request, body, write=True)
        data = validated(PlausibleGuestWrite(data=body))
        if data["role"] not in services.GUEST_ROLES:
            raise ServiceError("a guest's role is viewer or editor", field="role")
        found = selectors.guest_get(site=site, email=data["email"])
        if found is not None:
            return Response(guest_json(found.email, found.role, found.accepted))
        role = services.guest_invite(
            site=site, actor=acting_user(request), email=data["email"], role=data["role"]
        )
        guest = selectors.guest_get(site=site, email=data["email"])
        email = guest.email if guest is not None else data["email"].strip().lower()
        return Response(guest_json(email, role, accepted=False))


class PlausibleGuestView(TrailApiView):
    required_scope = Scope.MEMBERS_MANAGE
    parser_classes = PARSERS

    @extend_schema(
        parameters=[
            OpenApiParameter("email", str, OpenApiParameter.PATH, description="the guest's email"),
            SITE_ID_OF_DELETE,
        ],
        request=None,
        responses={200: Deleted, **error_responses(400, 403, 404)},
        operation_id="plausible_guest_delete",
        summary="Remove a guest or revoke their invitation (Plausible)",
        description="Revokes the invitations of that address and removes its member from the"
        ' site\'s organization (so from all of its sites); `{"deleted": true}` also when'
        " nobody had that address, as Plausible.",
        examples=[DELETED],
    )
    def delete(self, request: Request, email: str) -> Response:
        site = site_of_delete(request)
        services.guest_remove(site=site, actor=acting_user(request), email=email)
        return Response({"deleted": True})
