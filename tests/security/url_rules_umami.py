"""Tenancy rules of Umami's read API (reports/umami/urls.py), read by test_url_tenancy.py.

The websites are named by their public id (Umami's website id): another tenant's answers
exactly as an id that does not exist (tests/reports/test_umami_api.py checks it with B's
real id, which the generic walk does not fill in).
"""

RULES = {
    "api/heartbeat": "public",
    "api/auth/login": "public",
    "api/auth/verify": "org",
    "api/websites": "org",
    "api/websites/<str:website_id>": "site",
    "api/websites/<str:website_id>/stats": "site",
    "api/websites/<str:website_id>/pageviews": "site",
    "api/websites/<str:website_id>/metrics": "site",
    "api/websites/<str:website_id>/active": "site",
    "api/websites/<str:website_id>/events": "site",
    "api/websites/<str:website_id>/metrics/expanded": "site",
    "api/websites/<str:website_id>/daterange": "site",
    "api/websites/<str:website_id>/events/series": "site",
    "api/websites/<str:website_id>/sessions/stats": "site",
}
