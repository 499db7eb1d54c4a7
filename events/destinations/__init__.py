"""Streaming destinations (docs/destinations.md): every accepted, enriched event of a site
forwarded to a generic HTTP endpoint (signed NDJSON) or to Mixpanel's ingestion API, at
least once, with the event id as the dedup id, in batches.

- `models.py`: `Destination` and its outbox, `DestinationBatch`;
- `outbox.py`: the flush's one call, after ClickHouse stored a segment: the rows of sites
  with destinations, gzipped NDJSON, one outbox row per destination;
- `formats.py`: a batch → the request a destination's type sends;
- `forward.py`: the periodic job that sends each destination's oldest batches, retries
  with backoff, pauses after a day of failures and mails the owners;
- `services.py`: create, change, delete, describe (the API's and the page's rules);
- `api.py`: `/api/v1/sites/{domain}/destinations[/{id}]`.
"""
