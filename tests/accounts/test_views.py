"""`/admin/login/` sends people to the Trail login (accounts/views.py)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("", "/accounts/login/?next=%2Fadmin%2F"),
        ("/admin/sites/site/", "/accounts/login/?next=%2Fadmin%2Fsites%2Fsite%2F"),
        ("https://evil.example/", "/accounts/login/?next=%2Fadmin%2F"),  # not ours: ignored
        ("//evil.example/", "/accounts/login/?next=%2Fadmin%2F"),
    ],
)
def test_anonymous_people_go_to_the_trail_login(next_url: str, expected: str) -> None:
    answer = Client().get("/admin/login/", {"next": next_url} if next_url else {})
    assert answer.status_code == 302 and answer["Location"] == expected


def test_signed_in_staff_go_on_and_others_are_refused() -> None:
    member = Client()
    member.force_login(factories.user())
    refused = member.get("/admin/login/?next=/admin/")
    assert refused.status_code == 403  # not staff: sending them to a login again would loop
    assert member.post("/admin/login/").status_code == 403
    person = factories.user()
    person.is_staff = True
    person.save()
    staff = Client()
    staff.force_login(person)
    answer = staff.get("/admin/login/?next=/admin/sites/")
    assert answer.status_code == 302 and answer["Location"] == "/admin/sites/"
    assert staff.get("/admin/login/")["Location"] == "/admin/"


def test_other_methods_are_refused() -> None:
    assert Client().put("/admin/login/").status_code == 405
