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
