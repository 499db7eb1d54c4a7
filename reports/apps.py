from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        # The export job kinds (events/data_jobs.py runs them; it never imports reports).
        from reports import export_jobs

        export_jobs.register()
        from reports.imports import services as imports

        imports.register()
        from reports import deletions_api

        deletions_api.register()
