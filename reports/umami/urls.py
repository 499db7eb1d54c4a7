"""`/api/auth/login`, `/api/websites…`: Umami's read API."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
