"""Trail: self-hostable, privacy-first web and product analytics."""

from trail.celery import app as celery_app

__all__ = ["celery_app"]
