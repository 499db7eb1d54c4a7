"""Signals for layers above `sites` (which must not import them)."""

from django.dispatch import Signal

# Sent after commit when a site was deleted; kwargs: site_id. The events app purges its rows.
site_deleted = Signal()
