from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="dashboard/login.html"),
        name="login",
    ),
    path("live/", views.live, name="live"),
    path("requests/<str:request_id>/", views.request_detail, name="request"),
    path("analytics/", views.analytics_page, name="analytics"),
    path("patterns/", views.patterns, name="patterns"),
    path("security/", views.security, name="security"),
    path("enhancements/", views.enhancements, name="enhancements"),
]
