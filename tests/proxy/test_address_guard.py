"""The SSRF guard: provider base URLs may not point at private networks unless allowed."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from django.test import override_settings

from proxy import address_guard
from tests.conftest import Gateway

PRIVATE_URLS = [
    "http://127.0.0.1",
    "http://169.254.169.254/latest/meta-data",
    "http://10.0.0.1/v1",
    "http://192.168.1.10:8080/v1",
    "http://[::1]:9000/v1",
    "http://0.0.0.0/v1",
]


@pytest.fixture
def guard_on() -> Iterator[None]:
    with override_settings(UPSTREAM_PRIVATE_NETWORK_GUARD=True):
        yield


def resolving_to(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> None:
    def fake_getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(address_guard.socket, "getaddrinfo", fake_getaddrinfo)


def provider_form(base_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "upstream",
        "kind": "openai",
        "base_url": base_url,
        "api_key": "sk-test",
        "enabled": "on",
        "extra_headers": "{}",
        "model_names": "[]",
        **extra,
    }


@pytest.mark.django_db
@pytest.mark.usefixtures("guard_on")
@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_the_admin_refuses_a_private_base_url(admin_client: Any, url: str) -> None:
    from proxy.models import Provider

    response = admin_client.post("/admin/proxy/provider/add/", provider_form(url))
    assert response.status_code == 200  # the form again, with its error
    assert "private, loopback or link-local" in response.content.decode()
    assert not Provider.objects.exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("guard_on")
@pytest.mark.parametrize("url", PRIVATE_URLS[:3])
def test_the_admin_takes_a_private_base_url_when_allowed(admin_client: Any, url: str) -> None:
    from proxy.models import Provider

    form = provider_form(url, allow_private_network="on")
    response = admin_client.post("/admin/proxy/provider/add/", form)
    assert response.status_code == 302
    assert Provider.objects.get().allow_private_network


@pytest.mark.django_db
@pytest.mark.usefixtures("guard_on")
def test_every_address_a_host_resolves_to_is_checked(
    admin_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolving_to(monkeypatch, "93.184.215.14", "10.1.2.3")
    response = admin_client.post(
        "/admin/proxy/provider/add/", provider_form("https://api.example.com/v1")
    )
    assert response.status_code == 200
    assert "10.1.2.3" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.usefixtures("guard_on")
def test_a_host_that_resolves_to_public_addresses_is_accepted(
    admin_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolving_to(monkeypatch, "93.184.215.14")
    response = admin_client.post(
        "/admin/proxy/provider/add/", provider_form("https://api.example.com/v1")
    )
    assert response.status_code == 302


@pytest.mark.django_db
@pytest.mark.usefixtures("guard_on")
def test_a_host_that_does_not_resolve_is_refused(admin_client: Any) -> None:
    response = admin_client.post(
        "/admin/proxy/provider/add/", provider_form("https://no-such-host.invalid/v1")
    )
    assert response.status_code == 200
    assert "could not be resolved" in response.content.decode()


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", True),
        ("10.0.0.1", True),
        ("172.16.0.1", True),
        ("192.168.0.1", True),
        ("169.254.169.254", True),
        ("100.64.0.1", True),
        ("0.0.0.0", True),
        ("::1", True),
        ("fe80::1", True),
        ("fd00::1", True),
        ("::ffff:127.0.0.1", True),
        ("224.0.0.1", True),
        ("8.8.8.8", False),
        ("2606:4700::1111", False),
    ],
)
def test_addresses_are_judged_public_or_not(address: str, refused: bool) -> None:
    assert bool(address_guard.refused([address])) is refused


def test_the_seam_resolves_a_host_once_per_time_to_live(monkeypatch: pytest.MonkeyPatch) -> None:
    lookups: list[str] = []

    async def counting_resolve(host: str, port: int) -> list[str]:
        lookups.append(host)
        return ["10.0.0.5"]

    monkeypatch.setattr(address_guard, "resolve_async", counting_resolve)
    verdicts = address_guard.AddressVerdicts(ttl=60)

    async def ask_three_times() -> list[str]:
        return [await verdicts.problem("http://llm.internal/v1") for _ in range(3)]

    problems = asyncio.run(ask_three_times())
    assert lookups == ["llm.internal"]
    assert all("private address" in p for p in problems)


@pytest.fixture
def guarded_gateway(gateway: Gateway) -> Iterator[Gateway]:
    from proxy.runtime import get_runtime

    get_runtime().upstream.addresses.clear()
    with override_settings(UPSTREAM_PRIVATE_NETWORK_GUARD=True):
        yield gateway
    get_runtime().upstream.addresses.clear()


def test_the_upstream_seam_refuses_a_private_provider_saved_without_the_guard(
    guarded_gateway: Gateway,
) -> None:
    """A provider saved by code that skipped validation still cannot reach loopback."""
    with pytest.raises(openai.APIStatusError) as caught:
        guarded_gateway.openai().chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code == 502
    assert "does not allow private networks" in caught.value.message
    assert "127.0.0.1" not in caught.value.message
    assert guarded_gateway.fake.requests == []
    [log] = guarded_gateway.logs(1)
    assert log.status_code == 502


def test_the_upstream_seam_lets_an_allowed_private_provider_through(
    guarded_gateway: Gateway,
) -> None:
    from proxy.runtime import get_runtime

    guarded_gateway.provider.allow_private_network = True
    guarded_gateway.provider.save()
    get_runtime().invalidate_config()
    answer = guarded_gateway.openai().chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content == "echo: hi"


@pytest.mark.django_db
def test_providers_from_the_environment_are_trusted() -> None:
    from proxy.services.providers import providers_sync_from_env

    with override_settings(OPENAI_API_KEY="sk-env", OPENAI_BASE_URL="http://127.0.0.1:9/v1"):
        [provider] = providers_sync_from_env()
    assert provider.allow_private_network


def test_a_host_that_rebinds_to_a_private_address_after_its_verdict_is_not_connected_to(
    guarded_gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the cached verdict says public, the name now resolves to loopback."""
    from proxy.runtime import get_runtime

    port = guarded_gateway.fake.base_url.split(":")[2].split("/")[0]
    guarded_gateway.provider.base_url = f"http://localhost:{port}/v1"
    guarded_gateway.provider.save()
    get_runtime().invalidate_config()

    async def judged_public_a_minute_ago(url: str) -> str:
        return ""

    monkeypatch.setattr(get_runtime().upstream.addresses, "problem", judged_public_a_minute_ago)
    with pytest.raises(openai.APIStatusError) as caught:
        guarded_gateway.openai().chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code == 502
    assert guarded_gateway.fake.requests == []
    [log] = guarded_gateway.logs(1)
    assert log.status_code == 502


def test_the_guarded_resolver_passes_public_answers_through() -> None:
    class Answers(address_guard.AbstractResolver):
        async def resolve(self, host: str, port: int = 0, family: Any = 0) -> list[Any]:
            return [{"hostname": host, "host": "93.184.215.14", "port": port, "family": family,
                     "proto": 0, "flags": 0}]  # fmt: skip

        async def close(self) -> None:
            return None

    answers = asyncio.run(address_guard.GuardedResolver(Answers()).resolve("example.com", 443))
    assert [answer["host"] for answer in answers] == ["93.184.215.14"]
