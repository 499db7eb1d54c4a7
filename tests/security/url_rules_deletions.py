"""Tenancy rules of deletion on request and of a person's own account (reports/deletions_api.py,
frontend/views/deletions.py, frontend/views/account.py): the create routes and the page name
the site; a deletion job is found through the site of the key's or person's organizations;
the audit list is the key's or person's organization's; the account pages are the person's."""

RULES = {
    "api/v1/sites/<str:domain>/deletions": "site",
    "api/v1/deletions/<str:deletion_id>": "org",
    "api/v1/deletions": "org",
    "sites/<str:domain>/deletions": "site",
    "sites/<str:domain>/deletions/<str:deletion_id>": "site",
    "account": "org",
    "account/data.json": "org",
}
