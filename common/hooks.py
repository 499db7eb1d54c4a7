"""What a lower layer asks of the project, named in settings rather than imported.

The apps' commands (`migrate`, `clickhouse_migrate`) check the configured services before
they use them, but the checks belong to the project (`trail.preflight`), which sits above
every app. `settings.TRAIL_PREFLIGHT` names them by dotted path, as Django names views and
handlers, so no app imports `trail`.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string


def preflight(scope: str = "all") -> None:
    """Run the project's start-up checks of `scope` ("all", or "clickhouse" alone); each
    failure raises the project's error naming the variable to fix."""
    import_string(settings.TRAIL_PREFLIGHT[scope])()
