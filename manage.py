#!/usr/bin/env python
"""Django's command-line utility for Trail."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trail.settings")
    from django.core.management import execute_from_command_line

    from trail.config import ConfigError
    from trail.preflight import PreflightError

    try:
        execute_from_command_line(sys.argv)
    except (ConfigError, PreflightError) as exc:
        sys.exit(f"trail: {exc}")


if __name__ == "__main__":
    main()
