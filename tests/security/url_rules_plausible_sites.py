"""Tenancy rules of Plausible's Sites API words (sites/plausible_urls.py): each names its
site by `site_id` in the query or the body."""

RULES = {
    "api/v1/sites/custom-props": "body",
    "api/v1/sites/custom-props/<path:property>": "body",
    "api/v1/sites/guests": "body",
    "api/v1/sites/guests/<str:email>": "body",
}
