"""Costs: every adapter, streamed or not, with cache reads and writes, against genai-prices."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import genai_prices
import pytest

from proxy.fake_upstream import Behaviour
from proxy.providers import ADAPTERS, get_adapter
from tests.conftest import Gateway

LONG_PROMPT = [{"role": "user", "content": "tell me about tokens " * 1500}]
CACHE_CASES = {
    "no cache": {},
    "cache read": {"cached_tokens": 1200},
    "cache write": {"cache_write_tokens": 800},
    "cache read and write": {"cached_tokens": 1200, "cache_write_tokens": 800},
}
MODELS = ["gpt-4o", "claude-sonnet-4-5"]


def ask_openai(gateway: Gateway, model: str, stream: bool) -> None:
    client = gateway.openai()
    if stream:
        list(client.chat.completions.create(model=model, messages=LONG_PROMPT, stream=True))
    else:
        client.chat.completions.create(model=model, messages=LONG_PROMPT)


def ask_anthropic(gateway: Gateway, model: str, stream: bool) -> None:
    import anthropic

    client = anthropic.Anthropic(base_url=gateway.url, api_key=gateway.key, max_retries=0)
    reply = client.messages.create(model=model, max_tokens=256, messages=LONG_PROMPT, stream=stream)
    if stream:
        list(reply)  # type: ignore[arg-type]


ASK: dict[str, Callable[[Gateway, str, bool], None]] = {
    "openai": ask_openai,
    "anthropic": ask_anthropic,
}


def genai_prices_figure(log: Any, model: str) -> Decimal:
    usage = genai_prices.Usage(
        input_tokens=log.prompt_tokens,
        output_tokens=log.completion_tokens,
        cache_read_tokens=log.cached_tokens or None,
        cache_write_tokens=log.cache_write_tokens or None,
    )
    return genai_prices.calc_price(usage, model).total_price


def provider_of_kind(gateway: Gateway, kind: str) -> None:
    from proxy.runtime import get_runtime

    gateway.provider.kind = kind
    gateway.provider.save()
    get_runtime().invalidate_config()


@pytest.mark.parametrize("cache", list(CACHE_CASES))
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("kind", list(ADAPTERS))
def test_a_streamed_request_costs_exactly_what_genai_prices_says_and_the_same_unstreamed(
    gateway: Gateway, kind: str, model: str, cache: str
) -> None:
    provider_of_kind(gateway, kind)
    gateway.fake.by_model[model] = Behaviour(**CACHE_CASES[cache])
    ask = ASK[get_adapter(kind).API_FORMAT]
    ask(gateway, model, False)
    ask(gateway, model, True)
    streamed, unstreamed = gateway.logs(2)
    assert streamed.stream and not unstreamed.stream
    assert streamed.prompt_tokens == unstreamed.prompt_tokens > 1500
    assert (
        streamed.cached_tokens
        == unstreamed.cached_tokens
        == CACHE_CASES[cache].get("cached_tokens", 0)
    )
    expected = genai_prices_figure(unstreamed, model)
    assert expected > Decimal("0.01")  # big enough for "to the cent" to mean something
    assert unstreamed.cost_usd == streamed.cost_usd == expected.quantize(Decimal("1e-8"))
    assert round(streamed.cost_usd, 2) == round(expected, 2)


@pytest.mark.parametrize("cache", list(CACHE_CASES))
@pytest.mark.parametrize("kind", list(ADAPTERS))
def test_a_translated_request_costs_the_same_streamed_or_not_and_what_genai_prices_says(
    gateway: Gateway, kind: str, cache: str
) -> None:
    """The client speaks the other API: an OpenAI client on an Anthropic upstream and back."""
    model = "claude-sonnet-4-5"
    provider_of_kind(gateway, kind)
    gateway.fake.by_model[model] = Behaviour(**CACHE_CASES[cache])
    other = next(f for f in ASK if f != get_adapter(kind).API_FORMAT)
    ASK[other](gateway, model, False)
    ASK[other](gateway, model, True)
    streamed, unstreamed = gateway.logs(2)
    assert streamed.api_format == unstreamed.api_format == other
    assert streamed.prompt_tokens == unstreamed.prompt_tokens > 1500
    assert streamed.cache_write_tokens == unstreamed.cache_write_tokens
    expected = genai_prices_figure(unstreamed, model)
    assert expected > Decimal("0.01")
    assert unstreamed.cost_usd == streamed.cost_usd == expected.quantize(Decimal("1e-8"))


def test_cached_tokens_cost_less_than_fresh_ones(gateway: Gateway) -> None:
    ask_openai(gateway, "claude-sonnet-4-5", False)
    gateway.fake.by_model["claude-sonnet-4-5"] = Behaviour(cached_tokens=3000)
    ask_openai(gateway, "claude-sonnet-4-5", False)
    cached, fresh = gateway.logs(2)
    assert cached.cached_tokens == 3000 and not fresh.cached_tokens
    # The same prompt size and answer, priced as if nothing were cached, costs more.
    uncached = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=cached.prompt_tokens, output_tokens=cached.completion_tokens
        ),
        "claude-sonnet-4-5",
    ).total_price
    assert cached.cost_usd < uncached


def test_an_unknown_price_is_recorded_as_unknown_never_zero(gateway: Gateway) -> None:
    ask_openai(gateway, "my-local-llama", False)
    [log] = gateway.logs(1)
    assert log.status_code == 200 and log.prompt_tokens
    assert log.cost_usd is None


def test_a_route_price_override_replaces_genai_prices(gateway: Gateway, make_route: Any) -> None:
    make_route(
        "priced",
        ["my-local-llama"],
        input_usd_per_mtok=Decimal("2"),
        output_usd_per_mtok=Decimal("8"),
        cache_read_usd_per_mtok=Decimal("0.5"),
        cache_write_usd_per_mtok=Decimal("4"),
    )
    gateway.fake.by_model["my-local-llama"] = Behaviour(cached_tokens=1000, cache_write_tokens=500)
    ask_openai(gateway, "priced", True)
    [log] = gateway.logs(1)
    fresh = log.prompt_tokens - 1500
    expected = (fresh * 2 + 1000 * Decimal("0.5") + 500 * 4 + log.completion_tokens * 8) / Decimal(
        1_000_000
    )
    assert log.cost_usd == expected.quantize(Decimal("1e-8"))


def test_an_override_without_cache_prices_charges_cached_tokens_as_input(
    gateway: Gateway, make_route: Any
) -> None:
    make_route(
        "priced", ["gpt-4o"], input_usd_per_mtok=Decimal("1"), output_usd_per_mtok=Decimal("1")
    )
    gateway.fake.by_model["gpt-4o"] = Behaviour(cached_tokens=1000)
    ask_openai(gateway, "priced", False)
    [log] = gateway.logs(1)
    total = log.prompt_tokens + log.completion_tokens
    assert log.cost_usd == (Decimal(total) / 1_000_000).quantize(Decimal("1e-8"))


def test_a_provider_named_after_a_genai_prices_provider_is_priced_as_that_provider(
    gateway: Gateway,
) -> None:
    from proxy.providers import Usage
    from proxy.services.costs import cost_from_genai_prices

    usage = Usage(prompt_tokens=1000, completion_tokens=100)
    via_openrouter = cost_from_genai_prices(usage, "openai/gpt-4o", "openrouter")
    direct = cost_from_genai_prices(usage, "gpt-4o", "openai")
    assert via_openrouter is not None and direct is not None
    assert cost_from_genai_prices(usage, "gpt-4o", "some-local-proxy") == direct


def test_a_failed_request_costs_nothing_known(gateway: Gateway) -> None:
    import openai

    gateway.fake.then(status=500)
    with pytest.raises(openai.APIStatusError):
        ask_openai(gateway, "gpt-4o", False)
    [log] = gateway.logs(1)
    assert log.cost_usd is None and log.prompt_tokens is None
