"""Tenancy rules for Plausible's script paths (issue 24 point 3): the same file for everyone."""

RULES = {"js/<plausible_script:variant>.js": "public"}
