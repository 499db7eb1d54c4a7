from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events"

    def ready(self) -> None:
        # Registers the periodic jobs and signal handlers (for the job thread and Celery beat,
        # and the ingest site directory's reload on every site change).
        from events import data_jobs, flush, maintenance, retention, rollups_daily, salts  # noqa: F401
        from events.destinations import forward  # noqa: F401
        from events.ingest import sites  # noqa: F401
        from events.limits import quota  # noqa: F401
