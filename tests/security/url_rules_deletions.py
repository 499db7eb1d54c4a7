"""Tenancy rules of deletion on request (reports/deletions_api.py, frontend/views/deletions.py):
the create route and the page name the site; a deletion job is found through the site of
the key's or person's organizations; the audit list is the person's or key's organization's."""

RULES = {
    "api/v1/sites/<str:domain>/deletions": "site",
    "api/v1/deletions/<str:deletion_id>": "org",
    "api/v1/deletions": "org",
}
