"""Alerts on any metric (issue 20): rules evaluated every minute over the reports, firing
and clearing once, sent through `notify`'s channels."""
