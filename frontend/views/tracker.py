"""`/js/trail.js` (and its neutral alias `/assets/s.js`), `/js/trail.core.js`: the tracker;
`/js/script.js`, `/js/plausible.js` and their Plausible extension variants
(`/js/script.hash.outbound-links.js`): the tracker for pages carrying Plausible's snippet;
`/docs/tracker`: its options, linked from the snippet page.

The page is docs/tracker.md up to its `DEVELOPERS` marker (what follows is for Trail's own
developers), rendered by markdown-it-py (CommonMark and tables; raw HTML in the text is
escaped, not passed through), with Trail's address in the examples and a copy button
under every code block (frontend/static/trail/app.js copies `data-copy`'s element).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import etag, require_GET
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from frontend.assets import (
    plausible_extensions,
    plausible_script,
    plausible_script_etag,
    script,
    script_etag,
)

DEVELOPERS = "<!-- /docs/tracker ends here"
EXAMPLE_ORIGIN = "https://trail.example.net"


def _javascript(body: bytes) -> HttpResponse:
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    # An hour: a Trail upgrade reaches every page within it; browsers revalidate by ETag.
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
@etag(lambda request, name: script_etag(name))
def tracker_script(request: HttpRequest, name: str) -> HttpResponse:
    return _javascript(script(name))


def _plausible_etag(request: HttpRequest, variant: str) -> str | None:
    extensions = plausible_extensions(variant)
    return None if extensions is None else plausible_script_etag(extensions)


@require_GET
@etag(_plausible_etag)
def plausible_tracker_script(request: HttpRequest, variant: str) -> HttpResponse:
    """Plausible's script file names: the extensions in the name switch the same features
    on in Trail's tracker (docs/tracker.md); a name Plausible never published is a 404."""
    extensions = plausible_extensions(variant)
    if extensions is None:
        raise Http404("no such script")
    return _javascript(plausible_script(extensions))


def _fence(renderer: Any, tokens: list[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    """A code block with an id and a copy button under it."""
    env["snippets"] = number = env.get("snippets", 0) + 1
    ident = f"snippet-{number}"
    block = RendererHTML.fence(renderer, tokens, idx, options, env)
    block = block.replace("<pre>", f'<pre id="{ident}">', 1)
    button = f'<button type="button" class="secondary" data-copy="{ident}">Copy</button>'
    return f'<div class="doc-snippet">{block}{button}</div>\n'


def render_markdown(text: str) -> str:
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.add_render_rule("fence", _fence)
    return md.render(text, {})


@cache
def _tracker_docs() -> str:
    text = (settings.BASE_DIR / "docs" / "tracker.md").read_text(encoding="utf-8")
    users = text.split(DEVELOPERS, 1)[0]
    return render_markdown(users.replace(EXAMPLE_ORIGIN, settings.TRAIL.base_url))


@require_GET
def tracker_docs(request: HttpRequest) -> HttpResponse:
    return render(
        request, "frontend/doc.html", {"title": "The browser tracker", "html": _tracker_docs()}
    )
