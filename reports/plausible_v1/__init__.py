"""Plausible's Stats API v1 (legacy), translated onto Trail's Stats API (docs/migrate.md)."""
