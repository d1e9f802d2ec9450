"""Which upstream serves a model: route alias, then provider/model, then the default;
and what GET /v1/models lists."""

from __future__ import annotations

import openai
import pytest

from proxy.models import Provider, Route, RouteTarget
from tests.conftest import Gateway, make_key


def unreachable_provider(name: str = "down") -> Provider:
    provider = Provider(name=name, kind="openai", base_url="http://127.0.0.1:9/v1")
    provider.set_api_key("sk-down-0000")
    provider.save()
    return provider


def test_a_route_alias_falls_back_to_its_next_target(gateway: Gateway) -> None:
    route = Route.objects.create(alias="smart", namespace=gateway.namespace, strategy="fallback")
    RouteTarget.objects.create(route=route, provider=unreachable_provider(), model="m1")
    RouteTarget.objects.create(
        route=route, provider=gateway.provider, model="real-model", priority=1
    )

    completion = gateway.openai().chat.completions.create(
        model="smart", messages=[{"role": "user", "content": "hi"}]
    )

    assert completion.choices[0].message.content == "echo: hi"
    assert gateway.fake.requests[-1]["json"]["model"] == "real-model"
    (log,) = gateway.logs(1)
    assert (log.route, log.resolved_model, log.provider) == ("smart", "real-model", "fake")
    assert [a["target"] for a in log.attempts] == ["down/m1", "fake/real-model"]
    assert log.attempts[0]["status"] == 502


def test_a_namespace_route_wins_over_a_global_one(gateway: Gateway) -> None:
    glob = Route.objects.create(alias="chat", namespace=None)
    RouteTarget.objects.create(route=glob, provider=gateway.provider, model="global-model")
    own = Route.objects.create(alias="chat", namespace=gateway.namespace)
    RouteTarget.objects.create(route=own, provider=gateway.provider, model="own-model")
    gateway.openai().chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "hi"}]
    )
    assert gateway.fake.requests[-1]["json"]["model"] == "own-model"


def test_provider_slash_model_goes_to_that_provider(gateway: Gateway) -> None:
    gateway.openai().chat.completions.create(
        model="fake/vendor/some-model", messages=[{"role": "user", "content": "hi"}]
    )
    assert gateway.fake.requests[-1]["json"]["model"] == "vendor/some-model"


def test_a_route_without_a_usable_target_answers_503(gateway: Gateway) -> None:
    Route.objects.create(alias="empty", namespace=gateway.namespace)
    with pytest.raises(openai.InternalServerError) as raised:
        gateway.openai().chat.completions.create(
            model="empty", messages=[{"role": "user", "content": "hi"}]
        )
    assert raised.value.status_code == 503
    assert raised.value.body["code"] == "no_target"  # type: ignore[index]


def test_models_lists_routes_and_provider_models(gateway: Gateway) -> None:
    gateway.provider.model_names = ["gpt-4o-mini", "gpt-4o"]
    gateway.provider.save()
    route = Route.objects.create(alias="smart", namespace=gateway.namespace)
    RouteTarget.objects.create(route=route, provider=gateway.provider, model="gpt-4o")
    other = Route.objects.create(alias="theirs", namespace=None)
    RouteTarget.objects.create(route=other, provider=gateway.provider, model="gpt-4o")

    raw = gateway.openai().models.with_raw_response.list()
    names = [m.id for m in raw.parse()]

    assert names == sorted(
        ["fake/gpt-4o", "fake/gpt-4o-mini", "gpt-4o", "gpt-4o-mini", "smart", "theirs"]
    )
    assert len(raw.headers["x-llmproxy-request-id"]) == 32


def test_models_lists_only_what_a_restricted_key_may_use(gateway: Gateway) -> None:
    gateway.provider.model_names = ["gpt-4o-mini", "gpt-4o"]
    gateway.provider.save()
    secret, _ = make_key(name="narrow", allowed_models=["gpt-4o-mini", "special"])
    names = [m.id for m in gateway.openai(api_key=secret).models.list()]
    assert names == ["gpt-4o-mini", "special"]


def test_models_needs_a_valid_key(gateway: Gateway) -> None:
    with pytest.raises(openai.AuthenticationError):
        gateway.openai(api_key="lp-not-a-key").models.list()
