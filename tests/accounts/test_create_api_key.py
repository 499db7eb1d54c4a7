"""`manage.py create_api_key` prints the key alone on its last line."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ApiKey, Membership, Role
from accounts.services import api_key_authenticate
from tests import factories

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("create_api_key", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_prints_the_key_last_and_gives_an_organization() -> None:
    person = factories.user("robot@example.com")
    output = _run(
        "--email", "ROBOT@example.com", "--scopes", "sites:manage,events:write,stats:read"
    )
    raw = output.strip().splitlines()[-1]
    key = api_key_authenticate(raw)
    assert key is not None
    assert sorted(key.scopes) == ["events:write", "sites:manage", "stats:read"]
    assert Membership.objects.get(user=person).role == Role.OWNER
    assert key.organization == Membership.objects.get(user=person).organization


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--email", "nobody@example.com", "--scopes", "stats:read"), "--email: no user"),
        (
            ("--email", "robot@example.com", "--scopes", "stats:read,root"),
            "--scopes: unknown scope 'root'",
        ),
        (("--email", "robot@example.com", "--scopes", ","), "--scopes: choose at least one scope"),
    ],
)
def test_bad_arguments(args: tuple[str, ...], message: str) -> None:
    factories.user("robot@example.com")
    with pytest.raises(CommandError, match=message):
        _run(*args)
    assert not ApiKey.objects.exists()


def test_viewer_only_users_are_refused() -> None:
    org = factories.organization()
    factories.member(org, Role.VIEWER, email="viewer@example.com")
    with pytest.raises(CommandError, match="not an owner or admin"):
        _run("--email", "viewer@example.com", "--scopes", "stats:read")
