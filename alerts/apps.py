from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        # Registers the evaluator and notify's retries as periodic jobs (events.jobs).
        from alerts import jobs  # noqa: F401
