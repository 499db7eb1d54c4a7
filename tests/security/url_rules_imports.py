"""Tenancy rules of the import jobs' API (reports/imports/api.py): the create route names
the site; an import's own route is found through the key's or person's organizations."""

RULES = {
    "api/v1/sites/<str:domain>/imports": "site",
    "api/v1/imports/<str:import_id>": "org",
}
