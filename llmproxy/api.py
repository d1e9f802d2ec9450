"""API assembly: every app's ninja Router in one NinjaAPI.

/v1/...   the OpenAI- and Anthropic-compatible proxy endpoints (virtual keys)
/api/...  the management API (feedback, scans, analytics) with its OpenAPI docs
"""

from __future__ import annotations

from django.db import DataError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError

from analytics.api import router as analytics_router
from intelligence.api import router as intelligence_router
from proxy.anthropic_api import router as anthropic_router
from proxy.api import router as proxy_router
from proxy.errors import ProxyError, render_error
from security.api import router as security_router

api = NinjaAPI(
    title="LLM Proxy",
    version="1",
    description="OpenAI- and Anthropic-compatible gateway, and its management API.",
    docs_url="/api/docs",
    openapi_url="/api/openapi.json",
    urls_namespace="llmproxy",
)
api.add_router("/v1", proxy_router)
api.add_router("/v1", anthropic_router)
api.add_router("/api", intelligence_router)
api.add_router("/api/security", security_router)
api.add_router("/api/analytics", analytics_router)


def _format_for(request: HttpRequest) -> str:
    return "anthropic" if request.path.startswith("/v1/messages") else "openai"


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return render_error(_format_for(request), ProxyError(400, "invalid_request", str(exc.errors)))


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    kinds = {401: "authentication", 403: "permission", 404: "not_found", 429: "rate_limit"}
    error = ProxyError(exc.status_code, kinds.get(exc.status_code, "invalid_request"), str(exc))
    return render_error(_format_for(request), error)


@api.exception_handler(DataError)
def on_data_error(request: HttpRequest, exc: DataError) -> HttpResponse:
    """A value the database cannot store (e.g. a NUL character in text on PostgreSQL) is the
    caller's error, not the proxy's: 400, in the caller's format."""
    error = ProxyError(400, "invalid_request", "A value in the request cannot be stored.")
    return render_error(_format_for(request), error)
