"""`create_api_key --email E --scopes a,b [--name N]`: print a new key alone on the last line.

The user gets an organization if they have none; the key belongs to their first
organization in which they are an owner or admin.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts import services
from accounts.errors import Forbidden, ServiceError
from accounts.models import CAN_MANAGE_MEMBERS, User
from accounts.selectors import memberships_for_user


class Command(BaseCommand):
    help = "Create an API key for a user; the key is printed alone on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument(
            "--scopes", required=True, help="comma-separated: stats:read,events:write,sites:manage"
        )
        parser.add_argument("--name", default="created by create_api_key")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["email"].strip()).first()
        if user is None:
            raise CommandError(f"--email: no user with the email {options['email']!r}")
        services.organization_ensure_for_user(user=user)
        membership = next(
            (m for m in memberships_for_user(user=user) if m.role in CAN_MANAGE_MEMBERS), None
        )
        if membership is None:
            raise CommandError("--email: this user is not an owner or admin of any organization")
        try:
            key, raw = services.api_key_create(
                organization=membership.organization,
                actor=user,
                name=options["name"],
                scopes=options["scopes"].split(","),
            )
        except (ServiceError, Forbidden) as exc:
            field = getattr(exc, "field", None)
            raise CommandError(f"--{field}: {exc}" if field else str(exc)) from None
        self.stdout.write(
            f"API key {key.name!r} for {membership.organization.name}"
            f" with scopes {', '.join(key.scopes)}"
        )
        self.stdout.write(raw)
