"""Fixtures for routing, costs and limits: fresh per-process state, routes on the fake upstream."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def fresh_limits_and_breakers() -> Iterator[None]:
    """Counters and circuit breakers outlive a test in the process: start each test clean."""
    from proxy.counters import Counters
    from proxy.runtime import get_runtime

    runtime = get_runtime()
    runtime.counters = Counters()
    runtime.counters.cache.clear()
    runtime.breakers.reset()
    yield
    runtime.counters = Counters()
    runtime.breakers.reset()


@pytest.fixture
def make_route(gateway: Any) -> Callable[..., Any]:
    """A route whose targets are models of the fake upstream, scripted by `fake.by_model`.

    Each target gets its own provider (`fake-0`, `fake-1`, ...), so each has its own breaker.
    """
    from proxy.models import Provider, Route, RouteTarget

    def make(
        alias: str,
        models: list[str],
        *,
        strategy: str = "fallback",
        weights: list[int] | None = None,
        timeouts: list[float | None] | None = None,
        **route_fields: Any,
    ) -> Any:
        route = Route.objects.create(alias=alias, strategy=strategy, **route_fields)
        for index, model in enumerate(models):
            provider = Provider(
                name=f"fake-{alias}-{index}", kind="openai", base_url=gateway.fake.base_url
            )
            provider.set_api_key("sk-fake-upstream-secret-0000")
            provider.save()
            RouteTarget.objects.create(
                route=route,
                provider=provider,
                model=model,
                priority=index,
                weight=weights[index] if weights else 1,
                timeout_seconds=timeouts[index] if timeouts else None,
            )
        return route

    return make
