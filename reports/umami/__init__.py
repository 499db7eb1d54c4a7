"""Umami's read API, translated onto Trail's Stats API and services (docs/migrate.md)."""
