"""/healthz says the process answers; /readyz that it can serve (database, migrations)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError
from django.db.migrations import Migration
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_answers_ok() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_answers_ok_when_the_database_is_migrated() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "migrations": "applied"}


def test_readyz_answers_503_with_pending_migrations(monkeypatch: pytest.MonkeyPatch) -> None:
    pending = Migration("0099_not_applied_yet", "proxy")
    monkeypatch.setattr(
        MigrationExecutor, "migration_plan", lambda self, targets: [(pending, False)]
    )
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "migrations_pending": ["0099_not_applied_yet"],
    }


def test_readyz_answers_503_when_the_database_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.db import connection

    def refuse(*args: Any) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "ensure_connection", refuse)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert "connection refused" in response.json()["database"]


PROBE_HOST = "10.0.0.7:8000"  # a pod IP, as a container or load-balancer probe calls it


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_whatever_host_they_call_the_process_by(path: str) -> None:
    response = Client(HTTP_HOST=PROBE_HOST).get(path)
    assert response.status_code == 200 and response.json()["status"] == "ok"


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_probes_answer_whatever_host_under_asgi_too(path: str) -> None:
    from django.test import AsyncClient

    response = await AsyncClient(HTTP_HOST=PROBE_HOST).get(path)
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_every_other_request_on_an_unlisted_host_is_still_refused() -> None:
    client = Client(HTTP_HOST=PROBE_HOST)
    assert client.get("/dashboard/").status_code == 400
    assert client.get("/api/openapi.json").status_code == 400
    assert client.post("/healthz").status_code == 400  # only GET and HEAD skip the check


def test_probes_over_plain_http_are_not_redirected_in_the_https_only_profile(
    settings: Any,
) -> None:
    settings.SECURE_SSL_REDIRECT = True  # HTTPS_ONLY=true
    client = Client(HTTP_HOST=PROBE_HOST)
    response = client.get("/readyz")
    assert response.status_code == 200 and response["x-content-type-options"] == "nosniff"
    assert Client(HTTP_HOST="127.0.0.1").get("/dashboard/").status_code == 301
