"""deploy/docker-compose.yml: valid for docker compose, and in agreement with nginx.conf,
the app's settings and .env.example (no image is pulled or built here)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.servers import ROOT

DEPLOY = ROOT / "deploy"


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def nginx_conf() -> str:
    return (DEPLOY / "nginx.conf").read_text()


def web_services(services: dict[str, Any]) -> dict[str, Any]:
    """The services that run the proxy's ASGI application (the app image's default command)."""
    return {
        name: service
        for name, service in services.items()
        if "build" in service
        and "llmproxy.asgi:application" in " ".join(service.get("command") or dockerfile_cmd())
    }


def dockerfile_cmd() -> list[str]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    [command] = re.findall(r"^CMD (\[.*\])$", text, re.M)
    return list(yaml.safe_load(command))


def test_nginx_sends_requests_to_every_web_process_and_only_to_them() -> None:
    services = compose()["services"]
    upstream = re.search(r"upstream llmproxy \{(.*?)\}", nginx_conf(), re.S)
    assert upstream is not None
    servers = set(re.findall(r"^\s*server (\S+);", upstream.group(1), re.M))
    port = dockerfile_cmd()[dockerfile_cmd().index("--port") + 1]
    assert servers == {f"{name}:{port}" for name in web_services(services)}
    assert len(servers) >= 2


def test_web_processes_are_checked_on_readyz_and_start_after_the_migrations() -> None:
    services = compose()["services"]
    for name, service in web_services(services).items():
        assert "/readyz" in " ".join(service["healthcheck"]["test"]), name
        assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert "/healthz" in " ".join(services["nginx"]["healthcheck"]["test"])
    assert "migrate --no-input" in " ".join(services["migrate"]["command"])
    assert services["worker"]["command"] == ["python", "manage.py", "qcluster"]
    assert services["db"]["image"].startswith("pgvector/pgvector:pg15")


def test_only_nginx_is_trusted_with_forwarded_headers() -> None:
    services = compose()["services"]
    nginx_address = services["nginx"]["networks"]["backend"]["ipv4_address"]
    for name in [*web_services(services), "worker"]:
        assert services[name]["environment"]["TRUSTED_PROXIES"] == nginx_address, name
    assert "--no-proxy-headers" in dockerfile_cmd()  # uvicorn leaves the decision to the app


def test_nginx_limits_and_timeouts_match_the_proxys() -> None:
    from django.conf import settings

    config = nginx_conf()
    [body_limit] = re.findall(r"client_max_body_size (\d+)m;", config)
    assert int(body_limit) * 1024 * 1024 == settings.MAX_REQUEST_BYTES
    v1 = re.search(r"location /v1/ \{(.*?)\}", config, re.S)
    assert v1 is not None
    assert "proxy_buffering off;" in v1.group(1)
    [read_timeout] = re.findall(r"proxy_read_timeout (\d+)s;", v1.group(1))
    assert int(read_timeout) > settings.UPSTREAM_READ_TIMEOUT


def test_every_variable_the_layout_sets_is_documented() -> None:
    documented = (ROOT / ".env.example").read_text()
    services = compose()["services"]
    for name in [*web_services(services), "worker", "migrate"]:
        for variable in services[name]["environment"]:
            assert re.search(rf"^{variable}=", documented, re.M), variable
    interpolated = set(re.findall(r"\$\{(\w+)", (DEPLOY / "docker-compose.yml").read_text()))
    for variable in interpolated:
        assert variable in documented, variable


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="docker compose is not available",
)
def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    env = (ROOT / ".env.example").read_text() + "\nPOSTGRES_PASSWORD=example\n"
    work = tmp_path / "deploy"
    shutil.copytree(DEPLOY, work)
    (work / ".env").write_text(env)
    result = subprocess.run(
        ["docker", "compose", "-f", str(work / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
