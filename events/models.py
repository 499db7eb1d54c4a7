from __future__ import annotations

from django.db import models


class Salt(models.Model):
    """The random key of one UTC day's visitor hashes; deleted 48 h after its day ends."""

    day = models.DateField(unique=True)
    secret = models.BinaryField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"salt of {self.day}"
