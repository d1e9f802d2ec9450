"""A lighter Django ASGI handler for the proxy API (`/v1/`).

Django's `ASGIHandler` pays for things the proxy path does not use, on every
request (measured with py-spy under wrk, see bench/RESULTS.md):

- a `ThreadSensitiveContext` per request, so each request that touches any
  `sync_to_async` code gets a new thread (thread creation + join);
- the `request_started` / `request_finished` signals, whose receivers
  (`close_old_connections`, `reset_queries`, `close_caches`) are synchronous
  and so run through `sync_to_async`: two thread hops per request;
- `sync_to_async(response.close)`: a third hop;
- the session, auth, CSRF and messages middleware (`MiddlewareMixin` runs each
  hook through `sync_to_async`): the proxy API authenticates by bearer key and
  sets no cookies.

`ProxyASGIHandler` keeps Django's request parsing, URL resolution, views,
exception-to-response conversion and response sending, and skips the rest.
SecurityMiddleware's hooks (pure, non-blocking) run inline.

Database connections on this path are managed deliberately: the proxy touches
the database only on its own DB thread (`Runtime.run_on_db_thread`, which checks
its connection before each use) and on the log writer thread, never on the event
loop; nothing on `/v1/` may use `sync_to_async` ORM code.
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponseBase
from django.middleware.security import SecurityMiddleware
from django.urls import set_script_prefix

from llmproxy.middleware import in_api_format


def _unused_get_response(request: HttpRequest) -> HttpResponseBase:  # pragma: no cover
    raise AssertionError("SecurityMiddleware's hooks are called directly")


class ProxyASGIHandler(ASGIHandler):
    """Serves the proxy API: no per-request threads, no signals, inline security headers."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        self._middleware_chain = convert_exception_to_response(self._get_response_async)  # type: ignore[attr-defined]
        self._security = SecurityMiddleware(_unused_get_response)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"The proxy API serves HTTP only, not {scope['type']}.")
        await self.handle(scope, receive, send)

    async def run_get_response(self, request: HttpRequest) -> HttpResponseBase:
        response: Any = self._security.process_request(request)
        if response is None:
            response = await self._middleware_chain(request)  # type: ignore[misc]
            response = in_api_format(request, response)  # ninja's plain-text 405, as JSON
        response = self._security.process_response(request, response)
        response._handler_class = self.__class__
        return response

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            assert error_response is not None
            body_file.close()
            await self.send_response(error_response, send)
            close_response(error_response)
            return

        async def process_request() -> HttpResponseBase:
            response = await self.run_get_response(request)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client went away while the response was being sent
            return response

        # As Django does: a client that disconnects cancels the view (and so the
        # upstream request), which lets the relay record the partial stream.
        listener = asyncio.create_task(self.listen_for_disconnect(receive))
        processor = asyncio.create_task(process_request())
        await asyncio.wait((listener, processor), return_when=asyncio.FIRST_COMPLETED)
        for task in (listener, processor):
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        if not processor.cancelled() and processor.exception() is None:
            close_response(processor.result())
        body_file.close()


def close_response(response: HttpResponseBase) -> None:
    """`HttpResponseBase.close()` without the `request_finished` signal."""
    for closer in response._resource_closers:  # type: ignore[attr-defined]
        try:
            closer()
        except Exception:
            pass
    response._resource_closers.clear()  # type: ignore[attr-defined]
    response.closed = True  # type: ignore[attr-defined]


async def lifespan_application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """ASGI lifespan: flush the request log when the server shuts down.

    uvicorn re-raises SIGTERM after its graceful shutdown, so the process dies
    without running `atexit` handlers; its lifespan shutdown event is the place to
    drain the log writer. (daphne sends no lifespan events; its normal exit runs
    the recorder's `atexit` handler.)
    """
    from proxy.runtime import get_runtime

    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await asyncio.to_thread(get_runtime().shutdown)
            await send({"type": "lifespan.shutdown.complete"})
            return
