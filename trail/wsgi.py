"""WSGI entry point. In embedded mode, loading it starts the in-process runtime."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trail.settings")

application = get_wsgi_application()

from trail import runtime  # noqa: E402  (needs Django set up)

runtime.start()
