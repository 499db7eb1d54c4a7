"""Tenancy rules of email reports (digests/api.py, frontend/views/email_reports.py): every
route names its site, except the unsubscribe link, whose signed token is the permission."""

RULES = {
    "api/v1/sites/<str:domain>/email-reports": "site",
    "api/v1/sites/<str:domain>/email-reports/<str:report_id>": "site",
    "sites/<str:domain>/email-reports": "site",
    "sites/<str:domain>/email-reports/send": "site",
    "email-reports/unsubscribe/<str:token>": "capability",
}
