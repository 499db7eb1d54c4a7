"""The bottom layer: small helpers every app may use (a client's address, strict JSON,
spreadsheet-safe CSV). No models, no settings of their own, no import of any Trail app;
`make lint` holds it (the import-linter contract in pyproject.toml, docs/architecture.md).
"""
