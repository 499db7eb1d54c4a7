"""Flush-time enrichment: a spooled event becomes a row of the `events` table.

Nothing here runs on the request path except the referrer-spam check
(`referrers.is_spam_referrer`, a drop step of `events/ingest/steps.py`), which shares the
referrer parser. `enrich` builds the row from the page URL (`urls`), the referrer
(`referrers`), the user agent (`clients`, in Plausible's words from `labels`) and the IP's
location (`geo`); the row type itself is `events/rows.py`.
"""
