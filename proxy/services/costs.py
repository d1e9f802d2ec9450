"""What a request cost, from its usage: the route's own prices, else genai-prices.

genai-prices works offline from the snapshot bundled with the installed
version (its `UpdatePrices` poller is never started). Usage follows OpenAI's
convention: `prompt_tokens` includes the cached tokens (read and written),
which are priced at their own rates. A model genai-prices does not know, with
no route override, costs `None` ("unknown"), never 0.

Which genai-prices provider is used: the provider's name when it is one
genai-prices knows (`openai`, `anthropic`, `openrouter`, ...), else the
provider is inferred from the model name.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache, lru_cache

import genai_prices
from genai_prices.data_snapshot import get_snapshot

from proxy.call import Call
from proxy.config import PriceOverride, TargetInfo
from proxy.providers import Usage

PER_MILLION = Decimal(1_000_000)
STORED = Decimal("0.00000001")  # RequestLog.cost_usd has eight decimal places


@cache
def known_provider_ids() -> frozenset[str]:
    return frozenset(provider.id for provider in get_snapshot().providers)


def cost_from_override(usage: Usage, prices: PriceOverride) -> Decimal:
    prompt = usage.prompt_tokens or 0
    read = usage.cached_tokens or 0
    write = usage.cache_write_tokens or 0
    total = (
        max(0, prompt - read - write) * prices.input
        + read * prices.cache_read
        + write * prices.cache_write
        + (usage.completion_tokens or 0) * prices.output
    )
    return total / PER_MILLION


def cost_from_genai_prices(usage: Usage, model: str, provider: str) -> Decimal | None:
    priced = genai_prices.Usage(
        input_tokens=usage.prompt_tokens or 0,
        output_tokens=usage.completion_tokens or 0,
        cache_read_tokens=usage.cached_tokens or None,
        cache_write_tokens=usage.cache_write_tokens or None,
    )
    provider_id = provider if provider in known_provider_ids() else None
    try:
        return genai_prices.calc_price(priced, model, provider_id=provider_id).total_price
    except LookupError:
        if provider_id is None:
            return None
    try:  # the provider is known but not for this model (a proxy such as LiteLLM's)
        return genai_prices.calc_price(priced, model).total_price
    except LookupError:
        return None


@lru_cache(maxsize=4096)
def unit_prices(model: str, provider: str) -> tuple[Decimal, Decimal] | None:
    """(input, output) USD per token from genai-prices, for estimates (tiers ignored)."""
    million = Usage(prompt_tokens=1_000_000, completion_tokens=0)
    prompt = cost_from_genai_prices(million, model, provider)
    output = cost_from_genai_prices(
        Usage(prompt_tokens=0, completion_tokens=1_000_000), model, provider
    )
    if prompt is None or output is None:
        return None
    return prompt / PER_MILLION, output / PER_MILLION


def estimate_cost(
    call: Call, target: TargetInfo, prompt_tokens: int, output_tokens: int
) -> Decimal | None:
    """A quick upper estimate of a request's cost on a target (budget holds)."""
    prices = call.route.prices if call.route is not None else None
    if prices is not None:
        return (prompt_tokens * prices.input + output_tokens * prices.output) / PER_MILLION
    unit = unit_prices(target.model, target.provider.name)
    if unit is None:
        return None
    return prompt_tokens * unit[0] + output_tokens * unit[1]


def price_call(call: Call) -> Decimal | None:
    """Set and return `call.cost_usd` (None when the price is unknown or nothing was used)."""
    if call.cache_hit:  # answered from the response cache: costs nothing
        return call.cost_usd
    usage = call.usage
    target = call.target
    if target is None or (usage.prompt_tokens is None and usage.completion_tokens is None):
        return None
    prices = call.route.prices if call.route is not None else None
    if prices is not None:
        cost: Decimal | None = cost_from_override(usage, prices)
    else:
        cost = cost_from_genai_prices(usage, target.model, target.provider.name)
    call.cost_usd = None if cost is None else cost.quantize(STORED)
    return call.cost_usd
