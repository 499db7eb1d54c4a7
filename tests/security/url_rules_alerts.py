"""Tenancy rules of alerts (alerts/api.py, frontend/views/alerts.py): every route names the
site, and a rule is found through it."""

RULES = {
    "api/v1/sites/<str:domain>/alerts": "site",
    "api/v1/sites/<str:domain>/alerts/<str:alert_id>": "site",
    "api/v1/sites/<str:domain>/alerts/<str:alert_id>/firings": "site",
    "api/v1/sites/<str:domain>/alerts/<str:alert_id>/test": "site",
}
RULES["sites/<str:domain>/alerts"] = "site"
RULES["sites/<str:domain>/alerts/<str:alert_id>/test"] = "site"
