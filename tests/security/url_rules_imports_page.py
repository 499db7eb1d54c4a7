"""Tenancy rules of the site's Imports page (frontend/views/imports.py): both URLs name the
site; an import of another site under this site's URL is 404 as well."""

RULES = {
    "sites/<str:domain>/imports": "site",
    "sites/<str:domain>/imports/<str:import_id>": "site",
}
