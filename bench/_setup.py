"""Django for a benchmark process: Trail's settings on a throw-away (or given) var/ dir."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def django(var_dir: str | None = None, migrate: bool = True) -> Path:
    sys.path.insert(0, str(REPO))
    var = Path(var_dir or tempfile.mkdtemp(prefix="trail-bench-"))
    os.environ.setdefault("TRAIL_VAR_DIR", str(var))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trail.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django as _django

    _django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    return var


def rss_mib() -> float:
    """This process's resident memory now (MiB)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
