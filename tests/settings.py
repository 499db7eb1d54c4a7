"""Test settings: Trail's settings with a throw-away var/ (SQLite, chDB, spool).

The services suite sets DATABASE_URL, REDIS_URL and TRAIL_FLUSH_MODE=celery before
importing this (see .ci/run); the embedded suite sets nothing.
"""

import os
import tempfile

os.environ.setdefault("TRAIL_VAR_DIR", tempfile.mkdtemp(prefix="trail-test-"))

from trail.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
