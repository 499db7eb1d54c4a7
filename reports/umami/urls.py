"""`/api/auth/login`, `/api/websites…`: Umami's read API."""

from django.urls import URLPattern, path

from reports.umami import views

urlpatterns: list[URLPattern] = [
    path("heartbeat", views.HeartbeatView.as_view(), name="umami-heartbeat"),
    path("auth/login", views.LoginView.as_view(), name="umami-login"),
    path("auth/verify", views.VerifyView.as_view(), name="umami-verify"),
    path("websites", views.WebsitesView.as_view(), name="umami-websites"),
    path("websites/<str:website_id>", views.WebsiteView.as_view(), name="umami-website"),
    path("websites/<str:website_id>/stats", views.StatsView.as_view(), name="umami-website-stats"),
    path(
        "websites/<str:website_id>/pageviews",
        views.PageviewsView.as_view(),
        name="umami-website-pageviews",
    ),
    path(
        "websites/<str:website_id>/metrics",
        views.MetricsView.as_view(),
        name="umami-website-metrics",
    ),
    path(
        "websites/<str:website_id>/metrics/expanded",
        views.MetricsExpandedView.as_view(),
        name="umami-website-metrics-expanded",
    ),
    path(
        "websites/<str:website_id>/daterange",
        views.DaterangeView.as_view(),
        name="umami-website-daterange",
    ),
    path(
        "websites/<str:website_id>/events/series",
        views.EventSeriesView.as_view(),
        name="umami-website-events-series",
    ),
    path(
        "websites/<str:website_id>/sessions/stats",
        views.SessionStatsView.as_view(),
        name="umami-website-sessions-stats",
    ),
    path(
        "websites/<str:website_id>/active",
        views.ActiveView.as_view(),
        name="umami-website-active",
    ),
    path(
        "websites/<str:website_id>/events",
        views.EventsView.as_view(),
        name="umami-website-events",
    ),
]
