"""The tracker's built files: in step with the sources, within the size budget, served."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from frontend.tracker_assets import DIST, ENTRIES, ESBUILD, banner, build, source_digest

BUDGET = {"trail.core.js": 1536, "trail.js": 3072}  # bytes, gzipped (docs/tracker.md)


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_built_files_carry_the_digest_of_the_current_sources(name: str) -> None:
    first_line = (DIST / name).read_text().splitlines()[0]
    assert first_line == banner(source_digest()), (
        f"frontend/tracker/dist/{name} was built from other sources: run `make tracker`"
    )


@pytest.mark.skipif(not ESBUILD.exists(), reason="esbuild not installed (make tracker installs it)")
def test_a_rebuild_gives_the_committed_files(tmp_path: Path) -> None:
    for path in build(out=tmp_path):
        assert path.read_bytes() == (DIST / path.name).read_bytes(), path.name


@pytest.mark.parametrize("name", sorted(BUDGET))
def test_size_budget(name: str) -> None:
    size = len(gzip.compress((DIST / name).read_bytes(), compresslevel=9))
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
    assert answer.content == (DIST / name).read_bytes()
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
