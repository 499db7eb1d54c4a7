"""`/api/v1/stats/…`: Plausible's Stats API v1."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
