"""`/docs/tracker`: docs/tracker.md's part for users, as an HTML page (issue 16.8)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from frontend.views.tracker import render_markdown


def test_the_page_is_html_with_tables_and_copy_buttons(client: Any) -> None:
    response = client.get("/docs/tracker")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>The browser tracker</h1>" in html
    assert html.count("<table>") == 3 and "<th>attribute</th>" in html  # + Plausible's
    assert "| attribute |" not in html and "```" not in html  # no raw Markdown
    snippets = html.count('<pre id="snippet-')
    assert snippets >= 4 and html.count('data-copy="snippet-') == snippets
    assert f"{settings.TRAIL.base_url}/js/trail.js" in html
    assert "trail.example.net" not in html


def test_the_developers_part_is_left_out(client: Any) -> None:
    html = client.get("/docs/tracker").content.decode()
    assert "Building" not in html and "tests/frontend" not in html and "esbuild" not in html
    assert "docs/" not in html.replace("/docs/tracker", "")  # no repository paths
    assert "data-allow-local" in html and "navigator.webdriver" in html


def test_raw_html_in_the_text_is_escaped() -> None:
    html = render_markdown("<script>alert(1)</script>\n\n<b>x</b> `<i>`")
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "<code>&lt;i&gt;</code>" in html
