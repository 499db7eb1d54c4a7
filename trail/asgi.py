"""ASGI entry point (Trail serves WSGI; this exists for ASGI-only hosts)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trail.settings")

application = get_asgi_application()

from trail import runtime  # noqa: E402  (needs Django set up)

runtime.start()
