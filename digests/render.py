"""A report's content as mail: subject, plain text and HTML (templates
`digests/report.txt` and `.html`, numbers formatted by the dashboard's filters), and the
daily visitors chart as an inline PNG (`cid:chart`)."""

from __future__ import annotations

from dataclasses import dataclass

from django.template.loader import render_to_string

from digests.chart import bar_chart
from digests.content import Content

CHART_ID = "chart"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    chart: bytes  # PNG


def render(
    content: Content, *, frequency: str, unsubscribe_url: str, dashboard_url: str
) -> Rendered:
    context = {
        "content": content,
        "site": content.site,
        "period": content.period,
        "frequency": frequency,
        "unsubscribe_url": unsubscribe_url,
        "dashboard_url": dashboard_url,
        "chart_id": CHART_ID,
    }
    kind = "Weekly" if frequency == "weekly" else "Monthly"
    return Rendered(
        subject=f"{kind} report for {content.site.domain}: {content.period.label()}",
        text=render_to_string("digests/report.txt", context),
        html=render_to_string("digests/report.html", context),
        chart=bar_chart(content.daily_visitors),
    )
