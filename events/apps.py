from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "Events"

    def ready(self) -> None:
        # Registers the periodic jobs and signal handlers (for the flusher and Celery beat).
        from events import flush, maintenance, salts  # noqa: F401
