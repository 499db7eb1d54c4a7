from django.apps import AppConfig


class TrailConfig(AppConfig):
    name = "trail"
    verbose_name = "Trail"

    def ready(self) -> None:
        # The project's periodic jobs (events/jobs.py): the periodic backup everywhere, and
        # in embedded mode the backup requests of `manage.py backup` (trail/backup/channel.py).
        from django.conf import settings

        from events.jobs import periodic
        from trail.backup import channel
        from trail.backup import periodic as backups

        periodic(every=backups.CHECK_EVERY, name=backups.PERIODIC_JOB)(backups.scheduled)
        if settings.CLICKHOUSE.embedded:
            periodic(every=1.0, name=channel.CHANNEL_JOB)(channel.serve_requests)
