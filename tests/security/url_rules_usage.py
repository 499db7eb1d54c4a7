"""Tenancy rules of the usage page and API (frontend/views/usage.py, reports/usage_api.py):
both show the current organization's usage only (tests/frontend/test_usage.py checks that
another organization's numbers never show)."""

RULES = {
    "organization/usage": "org",
    "api/v1/usage": "org",
}
