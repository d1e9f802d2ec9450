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
from functools import cache

import genai_prices
from genai_prices.data_snapshot import get_snapshot

from proxy.call import Call
from proxy.config import PriceOverride
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
