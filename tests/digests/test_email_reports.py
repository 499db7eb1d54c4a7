"""Email reports end to end: events through the collector, a subscription, the sending job
at the start of the week, the mail received by a real SMTP server (aiosmtpd), its numbers
equal to the Stats API's, once per period; the unsubscribe link; the API and the page."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from collections.abc import Callable
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from accounts.models import Role
from digests import services
from digests.models import EmailReport
from digests.periods import WEEKLY, last_complete
from reports.stats import answer
from sites.models import Goal, Site
from sites.services import goal_create
from tests import factories
from tests.notify.conftest import Inbox, smtp, start_smtp  # noqa: F401  (real SMTP fixtures)
from tests.reports.conftest import hit

pytestmark = pytest.mark.django_db
ZONE = "Europe/Berlin"


def _this_week(now: dt.datetime) -> dt.datetime:
    """Tuesday noon of the current local week: its Monday 07:00 has passed."""
    local = now.astimezone(ZoneInfo(ZONE))
    monday = local.date() - dt.timedelta(days=local.weekday())
    return dt.datetime.combine(monday + dt.timedelta(days=1), dt.time(12), ZoneInfo(ZONE))


@pytest.fixture
def site(make_site: Callable[..., Site], seed: Callable[..., None]) -> Site:
    site = make_site("mailed.example.com", timezone=ZONE)
    now = dt.datetime.now(dt.UTC)
    week = last_complete(WEEKLY, now.astimezone(ZoneInfo(ZONE)).date())
    day1 = dt.datetime.combine(week.first, dt.time(10), ZoneInfo(ZONE))
    day3 = day1 + dt.timedelta(days=2)
    seed(
        site,
        [
            hit(site, day1, "/", ip="192.0.2.1", referrer="https://www.google.com/"),
            hit(site, day1 + dt.timedelta(minutes=1), "/pricing", ip="192.0.2.1"),
            hit(site, day1, "/", ip="192.0.2.2"),
            hit(site, day3, "/blog", ip="192.0.2.3", referrer="https://news.ycombinator.com/"),
            hit(site, day3, "/pricing", ip="192.0.2.4"),
            hit(site, day3, "/", ip="192.0.2.5", name="Signup"),
        ],
    )
    goal_create(site=site, kind=Goal.Kind.EVENT, value="Signup", display_name="", currency="")
    return site


def _subscribe_a_week_ago(site: Site, address: str = "team@example.org") -> EmailReport:
    return services.subscribe(
        site,
        email=address,
        frequency=WEEKLY,
        now=dt.datetime.now(dt.UTC) - dt.timedelta(days=7),
    )


def _parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_the_weekly_report_arrives_once_with_the_stats_apis_numbers(
    site: Site,
    smtp: Inbox,  # noqa: F811
) -> None:
    report = _subscribe_a_week_ago(site)
    now = _this_week(dt.datetime.now(dt.UTC))
    assert services.send_due(now=now) == 1
    assert services.send_due(now=now) == 0  # once per period
    assert services.send_due(now=now + dt.timedelta(days=2)) == 0
    [(_, recipients, raw)] = smtp.mails
    assert recipients == ["team@example.org"]
    mail = _parsed(raw)
    week = last_complete(WEEKLY, now.date())
    assert mail["Subject"] == f"Weekly report for mailed.example.com: {week.label()}"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = mail["List-Unsubscribe"].strip("<>")
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    truth = answer(
        site=site,
        body={
            "site_id": site.domain,
            "metrics": ["visitors", "visits", "pageviews", "bounce_rate"],
            "date_range": [week.first.isoformat(), week.last.isoformat()],
        },
    )["results"][0]["metrics"]
    assert truth[0] == 5  # the seeded visitors, all in the week
    assert f"Unique visitors: {truth[0]} " in text or f"Unique visitors: {truth[0]}\n" in text
    assert f"Total visits: {truth[1]}" in text
    assert f"Total pageviews: {truth[2]}" in text
    assert f"Bounce rate: {truth[3]}%" in text
    assert "/pricing: 2 visitors" in text  # top pages
    assert "Google: 1 visitors" in text
    assert "Signup: 1 uniques, 1 total" in text
    assert "new" in text  # nothing the week before: "new", never "+100%"
    assert "+100%" not in text and "+100%" not in html
    assert 'src="cid:chart"' in html and "mailed.example.com" in html
    images = [part for part in mail.walk() if part.get_content_type() == "image/png"]
    assert len(images) == 1 and images[0]["Content-ID"] == "<chart>"
    assert images[0].get_content().startswith(b"\x89PNG")
    assert link in text and link.startswith("http")
    report.refresh_from_db()
    assert report.last_period == week.first


def test_nothing_is_sent_before_seven_on_the_first_day_or_to_a_new_subscription(
    site: Site,
    smtp: Inbox,  # noqa: F811
) -> None:
    services.subscribe(site, email="new@example.org", frequency=WEEKLY)  # subscribed now
    now = _this_week(dt.datetime.now(dt.UTC))
    assert services.send_due(now=now) == 0  # its first report is next week's
    _subscribe_a_week_ago(site, "old@example.org")
    monday_early = now - dt.timedelta(days=1, hours=6)  # Monday 06:00 local
    assert services.send_due(now=monday_early) == 0
    assert services.send_due(now=now) == 1
    assert [rcpt for _, rcpt, _ in smtp.mails] == [["old@example.org"]]


def test_a_deleted_site_gets_no_report(site: Site, smtp: Inbox) -> None:  # noqa: F811
    _subscribe_a_week_ago(site)
    Site.objects.filter(pk=site.pk).update(deleted_at=dt.datetime.now(dt.UTC))
    assert services.send_due(now=_this_week(dt.datetime.now(dt.UTC))) == 0
    assert smtp.mails == []


def test_the_unsubscribe_link_asks_then_stops_the_report(site: Site) -> None:
    report = _subscribe_a_week_ago(site)
    link = services.unsubscribe_url(report)
    path = link.split("://", 1)[1].split("/", 1)[1]
    anonymous = Client()
    page = anonymous.get(f"/{path}")
    assert (
        page.status_code == 200 and b"Stop the weekly report of mailed.example.com" in page.content
    )
    assert EmailReport.objects.filter(pk=report.pk).exists()  # a GET (a link scanner) keeps it
    done = anonymous.post(
        f"/{path}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert done.status_code == 200 and b"Unsubscribed" in done.content
    assert not EmailReport.objects.filter(pk=report.pk).exists()
    assert anonymous.get(f"/{path}").status_code == 404  # used up
    assert anonymous.post(f"/{path}").status_code == 404


@pytest.mark.parametrize("token", ["x", "a" * 500, "eyJyIjoxfQ:forged:sig", "%00"])
def test_a_forged_or_broken_token_unsubscribes_nobody(site: Site, token: str) -> None:
    report = _subscribe_a_week_ago(site)
    assert Client().post(f"/email-reports/unsubscribe/{token}").status_code == 404
    assert Client().get(f"/email-reports/unsubscribe/{token}").status_code == 404
    assert EmailReport.objects.filter(pk=report.pk).exists()


def _api(site: Site, role: Role = Role.OWNER) -> Client:
    client = Client()
    client.force_login(factories.member(site.organization, role))
    return client


def test_the_api_adds_lists_and_removes_reports(site: Site) -> None:
    client = _api(site)
    url = f"/api/v1/sites/{site.domain}/email-reports"
    made = client.post(
        url, {"email": "Boss@Example.org", "frequency": "monthly"}, content_type="application/json"
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["email"], body["frequency"], body["week_start"]) == (
        "boss@example.org",
        "monthly",
        0,
    )
    assert body["last_period"] is not None  # the month just ended counts as seen
    listed = client.get(url).json()["email_reports"]
    assert [r["id"] for r in listed] == [body["id"]]
    assert client.get(f"{url}/{body['id']}").json() == body
    assert client.delete(f"{url}/{body['id']}").status_code == 204
    assert client.get(f"{url}/{body['id']}").status_code == 404


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"frequency": "weekly"}, "email"),
        ({"email": "not-an-address", "frequency": "weekly"}, "email"),
        ({"email": "a@example.org", "frequency": "daily"}, "frequency"),
        ({"email": "a@example.org", "frequency": "weekly", "week_start": 3}, "week_start"),
        ({"email": "a@example.org", "frequency": "weekly", "week_start": True}, "week_start"),
        ({"email": "a@example.org", "frequency": "weekly", "cc": "x"}, "cc"),
        ({"email": ["a@example.org"], "frequency": "weekly"}, "email"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(site: Site, payload: dict, field: str) -> None:
    answer_ = _api(site).post(
        f"/api/v1/sites/{site.domain}/email-reports", payload, content_type="application/json"
    )
    assert answer_.status_code == 400, answer_.content
    assert field in answer_.content.decode()
    assert not EmailReport.objects.exists()


def test_the_same_address_twice_is_refused_by_name(site: Site) -> None:
    client = _api(site)
    url = f"/api/v1/sites/{site.domain}/email-reports"
    body = {"email": "a@example.org", "frequency": "weekly"}
    assert client.post(url, body, content_type="application/json").status_code == 201
    again = client.post(url, body, content_type="application/json")
    assert again.status_code == 400 and "already receives" in again.content.decode()


def test_viewers_read_but_do_not_write_and_other_tenants_see_nothing(site: Site) -> None:
    _subscribe_a_week_ago(site)
    viewer = _api(site, Role.VIEWER)
    url = f"/api/v1/sites/{site.domain}/email-reports"
    assert viewer.get(url).status_code == 200
    assert (
        viewer.post(
            url, {"email": "v@example.org", "frequency": "weekly"}, content_type="application/json"
        ).status_code
        == 403
    )
    outsider = Client()
    outsider.force_login(factories.user())
    assert outsider.get(url).status_code == 404
    other = factories.site(factories.organization())
    stranger = _api(other)
    report = EmailReport.objects.get()
    assert stranger.get(f"{url}/{report.pk}").status_code == 404
    assert stranger.delete(f"{url}/{report.pk}").status_code == 404
    assert (
        stranger.post(f"/sites/{site.domain}/email-reports", {"delete": report.pk}).status_code
        == 404
    )
    assert EmailReport.objects.filter(pk=report.pk).exists()


def test_the_settings_page_adds_sends_now_and_stops(site: Site, smtp: Inbox) -> None:  # noqa: F811
    client = _api(site)
    page = f"/sites/{site.domain}/email-reports"
    assert b"No email reports yet" in client.get(page).content
    bad = client.post(page, {"email": "nope", "frequency": "weekly", "week_start": "0"})
    assert bad.status_code == 400 and b"not a valid email address" in bad.content
    made = client.post(
        page, {"email": "desk@example.org", "frequency": "weekly", "week_start": "6"}
    )
    assert made.status_code == 302
    listed = client.get(page).content.decode()
    assert "desk@example.org" in listed and "week, from Sunday" in listed
    report = EmailReport.objects.get()
    sent = client.post(f"{page}/send", {"report": report.pk})
    assert sent.status_code == 302
    [(_, rcpt, raw)] = smtp.mails
    assert rcpt == ["desk@example.org"] and "Weekly report" in _parsed(raw)["Subject"]
    assert client.post(page, {"delete": report.pk}).status_code == 302
    assert not EmailReport.objects.exists()
    assert re.search(r"will no longer receive", client.get(page).content.decode())
