"""Every new account gets an organization of its own."""

from typing import Any

from allauth.account.signals import user_signed_up

from accounts.services import organization_ensure_for_user


def _give_organization(sender: Any, request: Any, user: Any, **_: Any) -> None:
    organization_ensure_for_user(user=user)


user_signed_up.connect(_give_organization, dispatch_uid="accounts.organization_on_signup")
