"""Middleware that keeps API answers in the caller's API format.

django-ninja answers a wrong method with a plain-text 405; on `/v1/` and
`/api/` that becomes a JSON error in the caller's format (OpenAI's, or
Anthropic's under `/v1/messages`), with its `Allow` header kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from proxy.errors import ProxyError, render_error

Handler = Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]


def _format_for(path: str) -> str | None:
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith(("/v1/", "/api/")):
        return "openai"
    return None


def in_api_format(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    if response.status_code != 405 or response.get("content-type", "").startswith(
        "application/json"
    ):
        return response
    api_format = _format_for(request.path)
    if api_format is None:
        return response
    allowed = response.get("allow", "")
    error = ProxyError(
        405,
        "invalid_request",
        f"{request.method} is not allowed on {request.path}; use {allowed}.",
        code="method_not_allowed",
        headers={"allow": allowed},
    )
    return render_error(api_format, error)


class HybridMiddleware:
    """A middleware that runs in Django's sync chain and in its async one without a thread
    hop: `__call__` checks `is_async` and returns a coroutine in the async chain."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        raise NotImplementedError


class ApiErrorFormatMiddleware(HybridMiddleware):
    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self._acall(request)
        response = self.get_response(request)
        assert isinstance(response, HttpResponseBase)
        return in_api_format(request, response)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        assert not isinstance(response, HttpResponseBase)
        return in_api_format(request, await response)
