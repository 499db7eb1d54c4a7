"""Tenancy rules of streaming destinations (events/destinations/api.py,
frontend/views/destinations.py): every route names its site; a destination is found only
through that site."""

RULES = {
    "api/v1/sites/<str:domain>/destinations": "site",
    "api/v1/sites/<str:domain>/destinations/<str:destination_id>": "site",
    "sites/<str:domain>/destinations": "site",
}
