"""The production layout, running: deploy/nginx.conf in front of two proxy processes.

Two uvicorn processes serve the test database and share a Redis database, with the
production profile (HTTPS_ONLY, TRUSTED_PROXIES=127.0.0.1); nginx runs the committed
deploy/nginx.conf, with only its ports and paths substituted, behind a throwaway TLS
certificate. Skipped when nginx, openssl or Redis is not there (.ci/run installs nginx).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import aiohttp
import anthropic
import httpx
import openai
import pytest

from proxy.fake_upstream import Behaviour
from tests.conftest import Gateway
from tests.servers import ROOT, free_port, start_server, stop_servers, wait_until_up

NGINX = shutil.which("nginx", path=os.environ.get("PATH", "") + ":/usr/sbin")
REDIS_URL = os.environ.get("TEST_DEPLOY_REDIS_URL", "redis://127.0.0.1:6379/14")

pytestmark = [
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed"),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed"),
]


@dataclass
class Layout:
    url: str  # https, through nginx
    plain_url: str  # nginx's plain-HTTP server
    tls: ssl.SSLContext
    access_log: Path
    web_ports: list[int]

    def http(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(verify=self.tls, **kwargs)

    def openai(self, key: str) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=self.url + "/v1",
            api_key=key,
            max_retries=0,
            http_client=openai.DefaultHttpxClient(verify=self.tls),
        )

    def anthropic(self, key: str) -> anthropic.Anthropic:
        return anthropic.Anthropic(
            base_url=self.url,
            api_key=key,
            max_retries=0,
            http_client=anthropic.DefaultHttpxClient(verify=self.tls),
        )

    def upstreams_used(self, path_prefix: str) -> set[int]:
        """The web processes (ports) nginx sent requests for `path_prefix` to."""
        ports = set()
        for line in self.access_log.read_text().splitlines():
            if f" {path_prefix}" in line:
                ports.update(int(p) for p in re.findall(r"upstream=127\.0\.0\.1:(\d+)", line))
        return ports


def rendered_nginx_conf(substitutions: dict[str, str]) -> str:
    """deploy/nginx.conf itself with test ports and paths: each original must be there."""
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    for original, replacement in substitutions.items():
        assert original in config, f"deploy/nginx.conf no longer has {original!r}"
        config = config.replace(original, replacement)
    return config


def self_signed_certificate(directory: Path) -> None:
    directory.mkdir()
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(directory / "privkey.pem"), "-out", str(directory / "fullchain.pem")),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )


def collected_static_files(data_dir: Path) -> Path:
    """`manage.py collectstatic`, as the migrate step of the layout runs it."""
    env = {**os.environ, "DATA_DIR": str(data_dir), "DATABASE_URL": ""}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return data_dir / "staticfiles"


def start_nginx(tmp: Path, site: str) -> subprocess.Popen[bytes]:
    (tmp / "llmproxy.conf").write_text(site)
    mime_types = Path("/etc/nginx/mime.types")
    (tmp / "nginx.conf").write_text(
        f"""
        {"user root;" if os.geteuid() == 0 else ""}
        worker_processes 1;
        pid {tmp}/nginx.pid;
        error_log {tmp}/logs/error.log warn;
        events {{ worker_connections 256; }}
        http {{
            {f"include {mime_types};" if mime_types.exists() else ""}
            client_body_temp_path {tmp}/client_body;
            proxy_temp_path {tmp}/proxy_temp;
            fastcgi_temp_path {tmp}/fastcgi_temp;
            uwsgi_temp_path {tmp}/uwsgi_temp;
            scgi_temp_path {tmp}/scgi_temp;
            include {tmp}/llmproxy.conf;
        }}
        """
    )
    return subprocess.Popen(
        [NGINX or "nginx", "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for_nginx(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode() if process.stderr else "exited")
        try:
            httpx.get(url + "/healthz", timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError("nginx did not start")


@pytest.fixture
def redis_db() -> Iterator[None]:
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
        client.flushdb()  # this test's own database number
    except Exception:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    yield
    client.flushdb()


@pytest.fixture(scope="module")
def site_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A certificate and the collected static files, made once for this module."""
    files = tmp_path_factory.mktemp("site")
    self_signed_certificate(files / "certs")
    collected_static_files(files / "data")
    return files


@pytest.fixture
def layout(gateway: Gateway, redis_db: None, site_files: Path, tmp_path: Path) -> Iterator[Layout]:
    """Two proxy processes and nginx, for one test: the processes stop before the test
    database is emptied (they write to it)."""
    web_ports = [free_port(), free_port()]
    plain_port, tls_port = free_port(), free_port()
    (tmp_path / "logs").mkdir()
    site = rendered_nginx_conf(
        {
            "server web-1:8000;": f"server 127.0.0.1:{web_ports[0]};",
            "server web-2:8000;": f"server 127.0.0.1:{web_ports[1]};",
            "listen 80;": f"listen 127.0.0.1:{plain_port};",
            "listen 443 ssl;": f"listen 127.0.0.1:{tls_port} ssl;",
            "/etc/nginx/certs/": f"{site_files}/certs/",
            "/var/log/nginx/": f"{tmp_path}/logs/",
            "/srv/llmproxy/static/": f"{site_files}/data/staticfiles/",
        }
    )
    production = {"HTTPS_ONLY": "true", "TRUSTED_PROXIES": "127.0.0.1"}
    # As deploy/ runs them: uvicorn believes no forwarded header, the app decides.
    servers = [
        start_server(port, redis_url=REDIS_URL, uvicorn_args=("--no-proxy-headers",), **production)
        for port in web_ports
    ]
    nginx: subprocess.Popen[bytes] | None = None
    try:
        for port, process in zip(web_ports, servers, strict=True):
            wait_until_up(port, process)
        nginx = start_nginx(tmp_path, site)
        wait_for_nginx(f"http://127.0.0.1:{plain_port}", nginx)
        yield Layout(
            url=f"https://127.0.0.1:{tls_port}",
            plain_url=f"http://127.0.0.1:{plain_port}",
            tls=ssl.create_default_context(cafile=str(site_files / "certs" / "fullchain.pem")),
            access_log=tmp_path / "logs" / "llmproxy.access.log",
            web_ports=web_ports,
        )
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
        stop_servers(servers)


def both_sdks_answer(layout: Layout, key: str) -> None:
    client = layout.openai(key)
    for i in range(3):
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"hello {i}"}]
        )
        assert reply.choices[0].message.content == f"echo: hello {i}"
    message = layout.anthropic(key).messages.create(
        model="gpt-4o-mini", max_tokens=50, messages=[{"role": "user", "content": "bonjour"}]
    )
    assert message.content[0].text == "echo: bonjour"  # type: ignore[union-attr]


def a_stream_arrives_chunk_by_chunk(layout: Layout, gateway: Gateway) -> None:
    gateway.fake.by_model["slow"] = Behaviour(chunk_delay=0.3)
    stream = layout.openai(gateway.key).chat.completions.create(
        model="slow", messages=[{"role": "user", "content": "one two three four"}], stream=True
    )
    arrivals, text = [], ""
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())
            text += chunk.choices[0].delta.content
    assert text == "echo: one two three four"
    gaps = [later - earlier for earlier, later in pairwise(arrivals)]
    assert len(gaps) == 4  # the upstream waits 0.3 s between chunks: 1.2 s in all
    # Not gathered up and sent at the end (a loaded machine may bunch two chunks).
    assert arrivals[-1] - arrivals[0] > 0.6, gaps
    assert sum(gap > 0.1 for gap in gaps) >= 3, gaps


def test_through_nginx_both_sdks_and_a_stream_are_served_by_both_processes(
    gateway: Gateway, layout: Layout
) -> None:
    both_sdks_answer(layout, gateway.key)
    a_stream_arrives_chunk_by_chunk(layout, gateway)
    assert layout.upstreams_used("/v1/") == set(layout.web_ports)


async def request_events_on_the_dashboard(
    layout: Layout, session_id: str, send: Any, expected: int
) -> list[dict[str, Any]]:
    """Open the dashboard socket through nginx, run `send` (in a thread), and return the
    request.completed events that arrive, once `expected` of them are there."""
    async with aiohttp.ClientSession(cookies={"sessionid": session_id}) as session:
        socket = await session.ws_connect(
            layout.url.replace("https://", "wss://") + "/dashboard/ws/events/",
            ssl=layout.tls,
            headers={"origin": layout.url},
        )
        async with socket:
            await asyncio.to_thread(send)
            events: list[dict[str, Any]] = []
            deadline = time.monotonic() + 10
            while len(events) < expected:
                message = await socket.receive(timeout=max(0.01, deadline - time.monotonic()))
                frame = json.loads(message.data)
                events += [e for e in frame["events"] if e["type"] == "request.completed"]
            return events


def test_the_dashboard_socket_through_nginx_gets_the_events_of_both_processes(
    gateway: Gateway, layout: Layout, django_user_model: Any
) -> None:
    from django.test import Client

    staff = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    browser = Client(HTTP_HOST="127.0.0.1")
    browser.force_login(staff)
    client = layout.openai(gateway.key)
    sent: list[str] = []

    def send() -> None:
        for i in range(4):
            raw = client.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"hi {i}"}]
            )
            sent.append(raw.headers["x-llmproxy-request-id"])

    events = asyncio.run(
        request_events_on_the_dashboard(layout, browser.cookies["sessionid"].value, send, 4)
    )
    assert sorted(e["data"]["id"] for e in events) == sorted(sent)
    assert layout.upstreams_used("/v1/") == set(layout.web_ports)  # and so from both


def probes_are_answered_in_plain_http_and_the_rest_redirected(layout: Layout) -> None:
    with httpx.Client() as plain:
        assert plain.get(layout.plain_url + "/healthz").json() == {"status": "ok"}
        assert plain.get(layout.plain_url + "/readyz").status_code == 200
        moved = plain.get(layout.plain_url + "/dashboard/")
        assert moved.status_code == 301
        assert moved.headers["location"].startswith("https://")


def static_files_and_pages_are_served_and_large_bodies_refused(layout: Layout, key: str) -> None:
    with layout.http() as client:
        css = client.get(layout.url + "/static/admin/css/base.css")
        assert css.status_code == 200 and css.headers["content-type"] == "text/css"
        assert client.get(layout.url + "/dashboard/").status_code == 302  # to the login, no loop

        too_big = b'{"model": "m", "messages": [], "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'
        headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
        refused = client.post(layout.url + "/v1/chat/completions", content=too_big, headers=headers)
        assert refused.status_code == 413
        assert refused.json()["error"]["code"] == "request_too_large"
        refused = client.post(layout.url + "/v1/messages", content=too_big, headers=headers)
        assert refused.status_code == 413
        assert refused.json()["error"]["type"] == "request_too_large"


def the_client_address_is_the_one_nginx_saw_not_the_one_the_client_claims(
    layout: Layout, key: str
) -> None:
    from proxy.models import RequestLog

    transport = httpx.HTTPTransport(local_address="127.0.0.2", verify=layout.tls)
    with httpx.Client(transport=transport) as client:
        response = client.post(
            layout.url + "/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
            headers={"authorization": f"Bearer {key}", "x-forwarded-for": "203.0.113.7"},
        )
    assert response.status_code == 200
    request_id = response.headers["x-llmproxy-request-id"]
    deadline = time.monotonic() + 10  # written by the server process's log writer
    while not (log := RequestLog.objects.filter(id=request_id).first()):
        assert time.monotonic() < deadline, "the request was never recorded"
        time.sleep(0.05)
    assert log.client_ip == "127.0.0.2"


def test_nginx_answers_probes_serves_static_files_limits_bodies_and_names_the_client(
    gateway: Gateway, layout: Layout
) -> None:
    probes_are_answered_in_plain_http_and_the_rest_redirected(layout)
    static_files_and_pages_are_served_and_large_bodies_refused(layout, gateway.key)
    the_client_address_is_the_one_nginx_saw_not_the_one_the_client_claims(layout, gateway.key)
