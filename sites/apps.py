from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "sites"
    label = "trail_sites"
    verbose_name = "Sites"
