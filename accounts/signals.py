"""Signals of the accounts layer, for the layers above it (which it never imports)."""

from django.dispatch import Signal

# Sent inside the transaction that deletes an organization (`organization_id`): the layers
# that keep data of its own remove or schedule the removal of theirs (its sites: events).
organization_deleting = Signal()
