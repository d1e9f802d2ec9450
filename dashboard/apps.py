from __future__ import annotations

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Dashboard"

    def ready(self) -> None:
        from django.contrib import admin

        admin.site.site_url = "/dashboard/"  # the admin's "View site" link opens the dashboard
