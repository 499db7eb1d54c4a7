"""WSGI entry point. In embedded mode, loading it starts the in-process runtime.

The browser ingest endpoints are answered in front of Django (`events.ingest.wsgi`).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trail.settings")

from events.ingest.wsgi import wrap  # noqa: E402  (after the settings module is named)

application = wrap(get_wsgi_application())

from trail import runtime  # noqa: E402  (needs Django set up)

runtime.start()
