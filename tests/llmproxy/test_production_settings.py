"""The production profile: `check --deploy` passes, and answers carry the secure headers."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def check_deploy(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "proxy.example.com",
        "DEBUG": "false",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_without_warnings_in_the_production_profile(tmp_path: Path) -> None:
    result = check_deploy(tmp_path, HTTPS_ONLY="true")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_fails_without_https_settings(tmp_path: Path) -> None:
    """The check is not vacuous: the development defaults do not pass it."""
    result = check_deploy(tmp_path, HTTPS_ONLY="false")
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # no HSTS


@pytest.mark.django_db
def test_answers_carry_the_secure_headers(proxy_url: str) -> None:
    response = httpx.get(proxy_url + "/healthz")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["cross-origin-opener-policy"] == "same-origin"
    admin = httpx.get(proxy_url + "/admin/login/")
    assert admin.headers["x-frame-options"] == "DENY"
