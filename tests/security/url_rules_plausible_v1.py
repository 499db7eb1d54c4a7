"""Tenancy rules of Plausible's Stats API v1 (reports/plausible_v1/urls.py): every call
names its site by `site_id` in the query."""

RULES = {
    "api/v1/stats/realtime/visitors": "body",
    "api/v1/stats/aggregate": "body",
    "api/v1/stats/timeseries": "body",
    "api/v1/stats/breakdown": "body",
}
