"""/healthz (the process answers) and /readyz (database reachable, migrations applied).

`ProbesMiddleware`, right after Django's SecurityMiddleware (its headers, and no Host
read for these two redirect-exempt paths), answers both before anything reads the Host
header: a container's or a load balancer's probe calls the process by an address
(`127.0.0.1`, a pod IP) that ALLOWED_HOSTS rightly does not list, and Django would
answer it 400. Only these two paths, only GET and HEAD; nothing else skips the check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from llmproxy.middleware import HybridMiddleware


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        return JsonResponse({"status": "unavailable", "database": str(exc)[:200]}, status=503)
    if pending:
        return JsonResponse(
            {"status": "unavailable", "migrations_pending": [m.name for m, _ in pending]},
            status=503,
        )
    return JsonResponse({"status": "ok", "database": "ok", "migrations": "applied"})


PROBES: dict[str, Callable[[HttpRequest], JsonResponse]] = {"/healthz": healthz, "/readyz": readyz}


class ProbesMiddleware(HybridMiddleware):
    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        probe = PROBES.get(request.path_info) if request.method in ("GET", "HEAD") else None
        if self.is_async:
            return self._acall(request, probe)
        return probe(request) if probe is not None else self.get_response(request)

    async def _acall(
        self, request: HttpRequest, probe: Callable[[HttpRequest], JsonResponse] | None
    ) -> HttpResponseBase:
        if probe is not None:  # readyz touches the database: off the event loop
            return await sync_to_async(probe, thread_sensitive=True)(request)
        response = self.get_response(request)
        assert not isinstance(response, HttpResponseBase)
        return await response
