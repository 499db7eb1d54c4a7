"""Tenancy rules of the operator's endpoints (trail/metrics_view.py, trail/health.py): the
same for everyone and about no tenant — no site, organization or person is ever a label
or a field. Who may read `/metrics` (a token, or loopback) is tested in
tests/trail/test_metrics.py."""

RULES = {
    "metrics": "public",
    "readyz": "public",
}
