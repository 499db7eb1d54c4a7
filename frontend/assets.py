"""Trail's JavaScript bundles: how they are built and served.

- `trail.js`, `trail.core.js`: the browser tracker, from `frontend/tracker/`, served at
  `/js/…` (docs/tracker.md).
- `plausible.js`: the same tracker behind Plausible's script paths (`/js/script.js`,
  `/js/plausible.hash.outbound-links.js`, …): one bundle, served with the path's extensions
  written into its `EXTENSIONS` placeholder (`plausible_script`).
- `dashboard.js`: the dashboard's htmx, Chart.js and map, from `frontend/dashboard/` and
  the npm packages in `package-lock.json`, served as a static file.

`python -m frontend.assets` (what `make assets` runs) bundles and minifies each with esbuild
from `node_modules/`. The built files are committed, so `make run` needs no Node. Each
starts with the digest of what it was built from; a test fails when those change without
a rebuild.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRACKER = ROOT / "frontend" / "tracker"
DASHBOARD = ROOT / "frontend" / "dashboard"
ESBUILD = ROOT / "node_modules" / ".bin" / "esbuild"


@dataclass(frozen=True)
class Bundle:
    entry: Path
    sources: Path  # every .js file below it (and the lockfile, `locked`) feeds the digest
    out: Path
    target: str
    locked: bool = False  # built with npm packages: the lockfile is part of the digest

    def inputs(self) -> list[Path]:
        files = sorted(p for p in self.sources.rglob("*.js") if "dist" not in p.parts)
        return [*files, ROOT / "package-lock.json"] if self.locked else files

    def digest(self) -> str:
        digest = hashlib.sha256()
        for path in self.inputs():
            digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
        return digest.hexdigest()[:16]

    def banner(self) -> str:
        return f"/*! Trail {self.out.name} {self.digest()} */"

    def build(self, out: Path | None = None, esbuild: Path = ESBUILD) -> Path:
        target = out or self.out
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603 (esbuild from node_modules, fixed arguments)
            [
                str(esbuild),
                str(self.entry),
                "--bundle",
                "--minify",
                "--format=iife",
                f"--target={self.target}",
                "--legal-comments=none",
                "--loader:.json=json",
                f"--banner:js={self.banner()}",
                f"--outfile={target}",
                "--log-level=warning",
            ],
            check=True,
        )
        return target


BUNDLES = {
    "trail.js": Bundle(TRACKER / "trail.js", TRACKER, TRACKER / "dist" / "trail.js", "es2017"),
    "trail.core.js": Bundle(
        TRACKER / "trail.core.js", TRACKER, TRACKER / "dist" / "trail.core.js", "es2017"
    ),
    "plausible.js": Bundle(
        TRACKER / "plausible.js", TRACKER, TRACKER / "dist" / "plausible.js", "es2017"
    ),
}
BUNDLES["dashboard.js"] = Bundle(
    DASHBOARD / "main.js",
    DASHBOARD,
    ROOT / "frontend" / "static" / "trail" / "dashboard.js",
    "es2020",
    locked=True,
)


@cache
def script(name: str) -> bytes:
    """A built tracker file's bytes (read once per process)."""
    return BUNDLES[name].out.read_bytes()


@cache
def script_etag(name: str) -> str:
    return hashlib.sha256(script(name)).hexdigest()[:20]


# Plausible's published script extensions (`/js/script.<ext>.<ext>….js`).
PLAUSIBLE_EXTENSIONS = frozenset(
    {
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
    }
)
PLAUSIBLE_PLACEHOLDER = b'"@extensions@"'  # the string EXTENSIONS in frontend/tracker/plausible.js


def plausible_extensions(variant: str) -> frozenset[str] | None:
    """The extensions named by a Plausible script file name without `.js` (`script`,
    `plausible.hash.outbound-links`), in any order; None for a name Plausible never
    published (an unknown or repeated extension, another base name)."""
    base, *names = variant.split(".")
    chosen = frozenset(names)
    if base not in ("script", "plausible") or len(chosen) != len(names):
        return None
    return chosen if chosen <= PLAUSIBLE_EXTENSIONS else None


@lru_cache(maxsize=2 ** len(PLAUSIBLE_EXTENSIONS))
def plausible_script(extensions: frozenset[str]) -> bytes:
    """The Plausible-compatible tracker with `extensions` switched on (the same bytes for
    every order of the same names)."""
    built = script("plausible.js")
    value = json.dumps(".".join(sorted(extensions))).encode()
    return built.replace(
        PLAUSIBLE_PLACEHOLDER, value, 1
    )  # one, tests/frontend/test_plausible_scripts.py


@lru_cache(maxsize=2 ** len(PLAUSIBLE_EXTENSIONS))
def plausible_script_etag(extensions: frozenset[str]) -> str:
    return hashlib.sha256(plausible_script(extensions)).hexdigest()[:20]


if __name__ == "__main__":
    if not ESBUILD.exists():
        sys.exit("esbuild is missing: run `npm ci` first (make assets does)")
    for bundle in BUNDLES.values():
        path = bundle.build()
        sys.stdout.write(f"built {path.relative_to(ROOT)} ({path.stat().st_size} B)\n")
