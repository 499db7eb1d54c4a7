"""Plausible's script paths (`/js/script.js`, `/js/plausible.hash.outbound-links.js`, …):
the Plausible-compatible tracker with the path's extensions switched on (issue 24 point 3;
docs/tracker.md). The behaviour in a browser: tests/browser/test_plausible_snippet.py."""

from __future__ import annotations

import gzip
import itertools
import json
import re
from typing import Any

import pytest

from frontend.assets import (
    BUNDLES,
    PLAUSIBLE_EXTENSIONS,
    PLAUSIBLE_PLACEHOLDER,
    plausible_extensions,
)

PUBLISHED = [
    "hash",
    "outbound-links",
    "file-downloads",
    "tagged-events",
    "revenue",
    "pageview-props",
    "manual",
    "local",
    "exclusions",
    "compat",
]


def switched_on(body: bytes) -> set[str]:
    """The extensions written into a served file (where the bundle has its placeholder)."""
    built = BUNDLES["plausible.js"].out.read_bytes()
    before, after = built.split(PLAUSIBLE_PLACEHOLDER)
    assert body.startswith(before) and body.endswith(after)
    value = json.loads(body[len(before) : len(body) - len(after)])
    return set(value.split(".")) - {""}


def test_the_bundle_has_exactly_one_placeholder_and_fits_the_budget() -> None:
    built = BUNDLES["plausible.js"].out.read_bytes()
    assert built.count(PLAUSIBLE_PLACEHOLDER) == 1
    assert len(gzip.compress(built, compresslevel=9)) <= 3072  # docs/tracker.md
    assert set(PUBLISHED) == PLAUSIBLE_EXTENSIONS


@pytest.mark.parametrize("base", ["script", "plausible"])
@pytest.mark.parametrize("extension", [None, *PUBLISHED])
def test_every_published_name_is_served(client: Any, base: str, extension: str | None) -> None:
    path = f"/js/{base}.js" if extension is None else f"/js/{base}.{extension}.js"
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/javascript")
    assert answer["Cache-Control"] == "public, max-age=3600"
    assert answer["Access-Control-Allow-Origin"] == "*"
    assert not answer.cookies
    assert switched_on(answer.content) == ({extension} if extension else set())
    assert client.get(path, HTTP_IF_NONE_MATCH=answer["ETag"]).status_code == 304
    assert client.post(path).status_code == 405


@pytest.mark.parametrize(
    "names",
    [
        ("hash", "outbound-links"),
        ("outbound-links", "file-downloads", "tagged-events"),
        ("manual", "revenue", "pageview-props", "exclusions", "local"),
        tuple(PUBLISHED),
    ],
)
def test_combinations_in_any_order_are_one_file(client: Any, names: tuple[str, ...]) -> None:
    answers = [
        client.get(f"/js/{base}.{'.'.join(order)}.js")
        for base in ("script", "plausible")
        for order in itertools.islice(itertools.permutations(names), 6)
    ]
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert len({a["ETag"] for a in answers}) == 1
    assert switched_on(answers[0].content) == set(names)


def test_each_combination_has_its_own_etag(client: Any) -> None:
    tags = {
        client.get(path)["ETag"]
        for path in ("/js/script.js", "/js/script.hash.js", "/js/script.hash.manual.js")
    }
    assert len(tags) == 3
    plain = client.get("/js/script.js")
    assert client.get("/js/script.hash.js", HTTP_IF_NONE_MATCH=plain["ETag"]).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/js/script.unknown.js",
        "/js/script.hash.hash.js",  # a repeated extension: never published
        "/js/script.hash.outbound-link.js",
        "/js/script.Hash.js",
        "/js/script..hash.js",
        "/js/script.hash..js",
        "/js/scripts.js",
        "/js/plausible-hash.js",
        "/js/script.hash",
        "/js/pa-abc123.js",  # Plausible's per-site scripts of 2025: not served
        "/js/script.hash.js/x",
        "/js/script." + ".".join(["hash"] * 200) + ".js",
    ],
)
def test_names_plausible_never_published_are_404(client: Any, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404
    assert b"@extensions@" not in answer.content


def test_the_trail_scripts_are_unchanged_by_the_plausible_route(client: Any) -> None:
    for path, name in (("/js/trail.js", "trail.js"), ("/js/trail.core.js", "trail.core.js")):
        assert client.get(path).content == BUNDLES[name].out.read_bytes()


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("script", frozenset()),
        ("plausible", frozenset()),
        ("script.hash", frozenset({"hash"})),
        ("plausible.tagged-events.hash", frozenset({"hash", "tagged-events"})),
        ("script.compat.local.manual", frozenset({"compat", "local", "manual"})),
        ("script.hash.hash", None),
        ("script.nope", None),
        ("scripts", None),
        ("script.", None),
        ("trail", None),
    ],
)
def test_the_extension_parser(variant: str, expected: frozenset[str] | None) -> None:
    assert plausible_extensions(variant) == expected


def test_the_tracker_source_knows_every_extension_it_is_served_with() -> None:
    """Each published name is looked up in frontend/tracker/plausible.js (or is one with
    nothing to switch: `compat`, as the core finds its script tag without it)."""
    source = (BUNDLES["plausible.js"].entry).read_text()
    looked_up = set(re.findall(r"has(?:\.([a-z]+)|\['([a-z-]+)'\])", source))
    names = {dot or bracket for dot, bracket in looked_up}
    assert names == PLAUSIBLE_EXTENSIONS - {"compat"}


def test_the_tracker_docs_explain_the_plausible_paths(client: Any) -> None:
    text = client.get("/docs/tracker").content.decode()
    assert "/js/script.js" in text and "plausible_ignore" in text
    for extension in PUBLISHED:
        assert f"<code>{extension}</code>" in text, extension
