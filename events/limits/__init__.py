"""Limits that protect tenants (docs/limits.md): the per-site ingest rate limit
(`events.limits.ratelimit`), the per-organization monthly event quota and its mails
(`events.limits.quota`), the usage they are measured by (read by `reports.usage`), and
the instance admin's settings for both (`events.limits.models`, `events.admin`)."""
