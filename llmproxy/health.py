"""/healthz (the process answers) and /readyz (database reachable, migrations applied)."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse


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
