from django.apps import AppConfig


class DigestsConfig(AppConfig):
    name = "digests"
    verbose_name = "Email reports"

    def ready(self) -> None:
        from digests import jobs  # noqa: F401  (registers the sending job)
