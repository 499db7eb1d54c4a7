"""notify.channels: every malformed spec is refused naming its field; SSRF refused; the
normalized spec; redact."""

from __future__ import annotations

from typing import Any

import pytest

from notify.channels import ChannelError, redact, send, validate_channels
from notify.messages import Message
from notify.models import Delivery
from sites.models import Site

PUBLIC = "https://93.184.215.14/hook"  # a public address: checked, never contacted here


@pytest.mark.parametrize(
    ("specs", "field", "says"),
    [
        (None, "channels", "expected a list"),
        ({"type": "email"}, "channels", "expected a list"),
        ("ops@example.com", "channels", "expected a list"),
        ([{"type": "email", "to": "a@example.com"}] * 21, "channels", "at most 20"),
        (["ops@example.com"], "channels[0]", "expected an object"),
        ([{"to": "a@example.com"}], "channels[0].type", "required"),
        ([{"type": "sms", "to": "+15551234"}], "channels[0].type", "email or webhook"),
        ([{"type": ["email"]}], "channels[0].type", "email or webhook"),
        (
            [{"type": "email", "to": "a@example.com", "cc": "b@example.com"}],
            "channels[0].cc",
            "unknown key",
        ),
        (
            [{"type": "email", "to": "a@example.com", "url": PUBLIC}],
            "channels[0].url",
            "unknown key",
        ),
        ([{"type": "email"}], "channels[0].to", "required"),
        ([{"type": "email", "to": ""}], "channels[0].to", "required"),
        ([{"type": "email", "to": 7}], "channels[0].to", "required"),
        ([{"type": "email", "to": "not an address"}], "channels[0].to", "one email address"),
        (
            [{"type": "email", "to": "a@example.com,b@example.com"}],
            "channels[0].to",
            "one email address",
        ),
        (
            [{"type": "email", "to": "a@example.com; b@example.com"}],
            "channels[0].to",
            "one email address",
        ),
        ([{"type": "email", "to": "nobody"}], "channels[0].to", "not a valid email address"),
        ([{"type": "email", "to": "a@"}], "channels[0].to", "not a valid email address"),
        (
            [{"type": "email", "to": "a@b@example.com"}],
            "channels[0].to",
            "not a valid email address",
        ),
        (
            [{"type": "email", "to": "a@example.com\r\nBcc: x@evil.test"}],
            "channels[0].to",
            "one email address",
        ),
        (
            [{"type": "email", "to": "a@example.com\nBcc:x@evil.test"}],
            "channels[0].to",
            "not a valid",
        ),
        ([{"type": "email", "to": "x" * 250 + "@example.com"}], "channels[0].to", "at most 254"),
        ([{"type": "email", "to": "jörg@example.com"}], "channels[0].to", "ASCII"),
        (
            [{"type": "email", "to": "a@example.com"}, {"type": "webhook"}],
            "channels[1].url",
            "required",
        ),
        ([{"type": "webhook", "url": ""}], "channels[0].url", "required"),
        ([{"type": "webhook", "url": 42}], "channels[0].url", "required"),
        ([{"type": "webhook", "url": "ftp://example.com/x"}], "channels[0].url", "only http"),
        ([{"type": "webhook", "url": "javascript:alert(1)"}], "channels[0].url", "only http"),
        ([{"type": "webhook", "url": "https://"}], "channels[0].url", "no host"),
        ([{"type": "webhook", "url": "https://u:p@example.com/"}], "channels[0].url", "user name"),
        (
            [{"type": "webhook", "url": "https://example.com/" + "a" * 2100}],
            "channels[0].url",
            "at most 2048",
        ),
        (
            [{"type": "webhook", "url": "https://no-such-host.invalid/"}],
            "channels[0].url",
            "cannot be resolved",
        ),
        ([{"type": "webhook", "url": PUBLIC, "secret": 12345}], "channels[0].secret", "a string"),
        (
            [{"type": "webhook", "url": PUBLIC, "secret": "s" * 201}],
            "channels[0].secret",
            "at most 200",
        ),
        (
            [{"type": "webhook", "url": PUBLIC, "format": "xml"}],
            "channels[0].format",
            "json or slack",
        ),
        (
            [{"type": "webhook", "url": PUBLIC, "format": None}],
            "channels[0].format",
            "json or slack",
        ),
        (
            [{"type": "webhook", "url": PUBLIC, "to": "a@example.com"}],
            "channels[0].to",
            "unknown key",
        ),
        ([{"type": "webhook", "url": PUBLIC, "headers": {}}], "channels[0].headers", "unknown key"),
    ],
)
def test_a_malformed_spec_is_refused_naming_its_field(specs: object, field: str, says: str) -> None:
    with pytest.raises(ChannelError, match=says) as caught:
        validate_channels(specs)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.0.0.5/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
    ],
)
def test_a_private_webhook_url_is_refused_without_the_setting(url: str) -> None:
    with pytest.raises(ChannelError, match="Trail sends only to public addresses") as caught:
        validate_channels(
            [{"type": "email", "to": "a@example.com"}, {"type": "webhook", "url": url}]
        )
    assert caught.value.field == "channels[1].url"


@pytest.mark.usefixtures("private_allowed")
def test_a_private_webhook_url_is_accepted_with_the_setting() -> None:
    [spec] = validate_channels([{"type": "webhook", "url": "http://127.0.0.1:8000/hook"}])
    assert spec == {"type": "webhook", "url": "http://127.0.0.1:8000/hook", "format": "json"}


def test_specs_come_back_normalized() -> None:
    specs: list[Any] = [
        {"type": "email", "to": "  Ops@Example.COM "},
        {"type": "email", "to": "ops@bücher.example"},
        {"type": "webhook", "url": f" {PUBLIC} ", "secret": "whsec", "format": "slack"},
        {"type": "webhook", "url": PUBLIC, "secret": ""},
    ]
    assert validate_channels(specs) == [
        {"type": "email", "to": "Ops@example.com"},
        {"type": "email", "to": "ops@xn--bcher-kva.example"},
        {"type": "webhook", "url": PUBLIC, "secret": "whsec", "format": "slack"},
        {"type": "webhook", "url": PUBLIC, "format": "json"},
    ]
    assert validate_channels([]) == []


def test_redact_drops_the_secret_only() -> None:
    spec = {"type": "webhook", "url": PUBLIC, "secret": "whsec", "format": "json"}
    assert redact(spec) == {"type": "webhook", "url": PUBLIC, "format": "json"}
    assert spec["secret"] == "whsec"  # the caller's copy is left alone
    assert redact({"type": "email", "to": "a@example.com"}) == {
        "type": "email",
        "to": "a@example.com",
    }


def test_send_refuses_a_malformed_spec_and_stores_nothing(site: Site) -> None:
    message = Message(event="test", subject="s", text="t")
    for spec in ({"type": "email", "to": "nope"}, {"type": "webhook", "url": "ftp://x/"}, {}):
        with pytest.raises(ChannelError):
            send(site, spec, message, source="test")
    assert not Delivery.objects.exists()
