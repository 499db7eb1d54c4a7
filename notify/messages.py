"""What Trail tells people and programs: one `Message`, rendered per channel (a mail with
a plain-text and an HTML part, a signed JSON webhook, a Slack-shaped webhook) by
`notify.deliveries`."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_SUBJECT = 300  # characters; a longer subject is cut (mail clients show far less)


@dataclass(frozen=True)
class Message:
    """One notification, the same for every channel it goes to.

    `event` names what happened ("alert.fired", "alert.cleared", "destination.paused",
    "test", ...): the webhook's `event` field and `X-Trail-Event` header. `subject` and
    `text` are for people (the mail's subject and plain-text part, Slack's text); `html`,
    when set, is the mail's HTML alternative, and may show `images` by content id
    (`<img src="cid:chart">` for `("chart", png_bytes)`). `data` is the webhook body's
    `data` field: anything JSON can hold (datetimes, decimals and UUIDs become strings).
    `headers` are extra mail headers (e.g. `List-Unsubscribe`); webhooks ignore them.
    """

    event: str
    subject: str
    text: str
    html: str = ""
    data: dict[str, object] = field(default_factory=dict)
    images: tuple[tuple[str, bytes], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
