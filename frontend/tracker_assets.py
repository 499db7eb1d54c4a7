"""The browser tracker's built files: how they are built and served.

Source: `frontend/tracker/` (ES modules). `python -m frontend.tracker_assets` (what `make
tracker` runs) bundles and minifies each entry with esbuild into `frontend/tracker/dist/`,
which is committed, so `make run` needs no Node. Each built file starts with the digest of
the sources it was built from; a test fails when the sources change without a rebuild.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from functools import cache
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "tracker"
DIST = SOURCE / "dist"
ESBUILD = SOURCE.parents[1] / "node_modules" / ".bin" / "esbuild"
# served name → entry module: the full tracker (every module, each switchable) and the core
ENTRIES = {"trail.js": "trail.js", "trail.core.js": "trail.core.js"}


def sources() -> list[Path]:
    return sorted(path for path in SOURCE.rglob("*.js") if DIST not in path.parents)


def source_digest() -> str:
    digest = hashlib.sha256()
    for path in sources():
        digest.update(path.relative_to(SOURCE).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def banner(digest: str) -> str:
    return f"/*! Trail tracker {digest} | docs/tracker.md */"


def build(out: Path = DIST, esbuild: Path = ESBUILD) -> list[Path]:
    """Bundle every entry into `out`; the built files."""
    out.mkdir(parents=True, exist_ok=True)
    built = []
    for name, entry in ENTRIES.items():
        target = out / name
        subprocess.run(  # noqa: S603 (esbuild from node_modules, fixed arguments)
            [
                str(esbuild),
                str(SOURCE / entry),
                "--bundle",
                "--minify",
                "--format=iife",
                "--target=es2017",
                "--legal-comments=none",
                f"--banner:js={banner(source_digest())}",
                f"--outfile={target}",
                "--log-level=warning",
            ],
            check=True,
        )
        built.append(target)
    return built


@cache
def script(name: str) -> bytes:
    """A built file's bytes (read once per process)."""
    return (DIST / ENTRIES[name]).read_bytes()


@cache
def script_etag(name: str) -> str:
    return hashlib.sha256(script(name)).hexdigest()[:20]


if __name__ == "__main__":
    if not ESBUILD.exists():
        sys.exit("esbuild is missing: run `npm ci` first (make tracker does)")
    for path in build():
        sys.stdout.write(f"built {path.relative_to(SOURCE.parents[1])} ({path.stat().st_size} B)\n")
