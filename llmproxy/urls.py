from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.defaults import page_not_found, server_error

from analytics.views import metrics
from llmproxy import health
from llmproxy.api import api
from proxy.errors import ProxyError, render_error

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("metrics", metrics),
    path("dashboard/", include("dashboard.urls")),
    path("", api.urls),
]


def _api_format(request: HttpRequest) -> str | None:
    if request.path.startswith("/v1/messages"):
        return "anthropic"
    if request.path.startswith(("/v1/", "/api/")):
        return "openai"
    return None


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    api_format = _api_format(request)
    if api_format is None:
        return page_not_found(request, exception or Exception("not found"))
    return render_error(
        api_format, ProxyError(404, "not_found", f"Unknown endpoint {request.path}.")
    )


def handler500(request: HttpRequest) -> HttpResponse:
    api_format = _api_format(request)
    if api_format is None:
        return server_error(request)
    return render_error(api_format, ProxyError(500, "internal", "Internal error in the proxy."))
