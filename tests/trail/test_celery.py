"""The Celery app's result backend (services mode: Redis) stores results without warnings."""

from __future__ import annotations

import uuid
import warnings

import pytest
from celery import states

from trail.celery import app


@pytest.mark.services
def test_a_result_is_stored_in_redis_without_a_deprecation_warning() -> None:
    """redis-py 8.0 and 8.1 warned on the `setex` Celery's Redis backend calls for every
    stored result; 8.2 does not (pyproject.toml pins it)."""
    backend = app.backend
    assert type(backend).__name__ == "RedisBackend"
    task_id = f"test-{uuid.uuid4()}"
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        backend.store_result(task_id, {"flushed": 3}, states.SUCCESS)
    try:
        assert backend.get_task_meta(task_id)["result"] == {"flushed": 3}
        assert 0 < backend.client.ttl(backend.get_key_for_task(task_id)) <= 86_400
    finally:
        backend.forget(task_id)
