"""The built bundles: in step with their sources, the tracker within its size budget and
served."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from frontend.assets import BUNDLES, ESBUILD

BUDGET = {
    "trail.core.js": 1536,
    "trail.js": 3072,
    "plausible.js": 3072,
}  # bytes, gzipped (docs/tracker.md)


@pytest.mark.parametrize("name", sorted(BUNDLES))
def test_built_files_carry_the_digest_of_the_current_sources(name: str) -> None:
    bundle = BUNDLES[name]
    first_line = bundle.out.read_text().splitlines()[0]
    assert first_line == bundle.banner(), (
        f"{bundle.out} was built from other sources: run `make assets`"
    )


@pytest.mark.skipif(not ESBUILD.exists(), reason="esbuild not installed (make assets installs it)")
@pytest.mark.parametrize("name", sorted(BUNDLES))
def test_a_rebuild_gives_the_committed_file(tmp_path: Path, name: str) -> None:
    bundle = BUNDLES[name]
    assert bundle.build(out=tmp_path / name).read_bytes() == bundle.out.read_bytes()


@pytest.mark.parametrize("name", sorted(BUDGET))
def test_size_budget(name: str) -> None:
    size = len(gzip.compress(BUNDLES[name].out.read_bytes(), compresslevel=9))
    assert size <= BUDGET[name], f"{name}: {size} bytes gzipped, budget {BUDGET[name]}"


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/js/trail.js", "trail.js"),
        ("/assets/s.js", "trail.js"),
        ("/js/trail.core.js", "trail.core.js"),
    ],
)
def test_served_to_anyone_without_cookies(client: Any, path: str, name: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("application/javascript")
    assert answer.content == BUNDLES[name].out.read_bytes()
    assert answer["Cache-Control"] == "public, max-age=3600"
    assert not answer.cookies
    again = client.get(path, HTTP_IF_NONE_MATCH=answer["ETag"])
    assert again.status_code == 304
    assert client.post(path).status_code == 405


def test_the_snippet_page_links_to_the_tracker_docs(client: Any, db: None) -> None:
    from tests import factories

    owner = factories.user()
    site = factories.site(factories.organization(owner), "docs-link-trail.com")
    client.force_login(owner)
    page = client.get(f"/sites/{site.domain}/").content.decode()
    assert 'href="/docs/tracker"' in page
    assert f"data-domain=&quot;{site.domain}&quot;" in page and "/js/trail.js" in page
    docs = client.get("/docs/tracker")
    assert docs.status_code == 200
    text = docs.content.decode()
    for option in ("data-api", "data-hash", "data-outbound-links", "data-file-downloads"):
        assert option in text
    for option in ("data-form-submissions", "data-404", "data-engagement", "data-allow-local"):
        assert option in text
    assert "trail_ignore" in text
