"""Fixtures for the response cache: an empty cache, and a route with the cache on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def empty_response_cache() -> Iterator[None]:
    from django.core.cache import caches

    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def cached_route(gateway: Any) -> Any:
    """A global route `cached` (the cache on, default TTL) to the fake upstream's model `m`."""
    from proxy.models import Route, RouteTarget

    route = Route.objects.create(alias="cached", cache_enabled=True)
    RouteTarget.objects.create(route=route, provider=gateway.provider, model="m")
    return route
