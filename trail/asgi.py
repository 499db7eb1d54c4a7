"""ASGI entry point (Trail serves WSGI; this exists for ASGI-only hosts).

The browser ingest endpoints are answered in front of Django (`events.ingest.asgi`), by the
same transport-neutral handler as under WSGI (`events.ingest.handler`).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trail.settings")

from events.ingest.asgi import wrap  # noqa: E402  (after the settings module is named)

application = wrap(get_asgi_application())

from trail import runtime  # noqa: E402  (needs Django set up)

runtime.start()
