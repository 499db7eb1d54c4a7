"""The alerts' periodic jobs (`events.jobs`: Celery beat in services mode, the job thread
in embedded mode): the evaluator every minute, and notify's retries every 30 seconds
(notify has no periodic registration of its own: it sits below `events`)."""

from __future__ import annotations

import logging

from django.core.cache import cache

from events.jobs import periodic

logger = logging.getLogger(__name__)

EVALUATE = "alerts.evaluate"
RETRY = "notify.retry_due"
LOCK = "alerts:evaluate:running"
LOCK_SECONDS = 300  # a cycle that dies holding the lock holds it no longer than this


@periodic(60, name=EVALUATE, outbound=True)
def evaluate_rules() -> object:
    """One evaluation cycle, unless one is still running (in any process sharing the cache:
    Redis in services mode)."""
    from alerts.evaluate import evaluate

    if not cache.add(LOCK, 1, LOCK_SECONDS):
        logger.info("alerts: the previous cycle is still running; skipped")
        return None
    try:
        cycle = evaluate()
    finally:
        cache.delete(LOCK)
    if cycle.rules:
        logger.info(
            "alerts: %d rules in %d reads, %d fired, %d cleared, %d errors, %.2f s",
            cycle.rules,
            cycle.groups,
            cycle.fired,
            cycle.cleared,
            cycle.errors,
            cycle.seconds,
        )
    return {"rules": cycle.rules, "fired": cycle.fired, "cleared": cycle.cleared}


@periodic(30, name=RETRY, outbound=True)
def retry_deliveries() -> object:
    from notify import deliveries

    return deliveries.retry_due()
