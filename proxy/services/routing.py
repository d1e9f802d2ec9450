"""Stage "route": which provider and model serve a requested model name.

Resolution order: a route alias (the key's namespace first, then global), then
`provider/model`, then the default provider with the name as given. A route's
strategy orders its targets into a plan; `attempts.open_upstream` tries them in turn:
- single: the first target by priority, alone;
- fallback: every target, by priority (lower first);
- weighted: one target drawn by weight first, then the others by priority
  as fallbacks.
"""

from __future__ import annotations

import random

from proxy.call import Call
from proxy.config import ConfigSnapshot, RouteInfo, TargetInfo
from proxy.errors import ProxyError


def model_allowed(call: Call) -> bool:
    allowed = call.key.allowed_models if call.key else ()
    return not allowed or call.requested_model in allowed


def plan_for_route(route: RouteInfo, rng: random.Random | None = None) -> list[TargetInfo]:
    """The order in which a route's targets are tried."""
    by_priority = sorted(route.targets, key=lambda t: t.priority)
    if route.strategy == "single":
        return by_priority[:1]
    weights = [max(t.weight, 0) for t in by_priority]
    if route.strategy == "weighted" and sum(weights) > 0:  # all zero: plain priority order
        first = (rng or random).choices(by_priority, weights=weights)[0]
        return [first, *[t for t in by_priority if t is not first]]
    return by_priority


def resolve(
    call: Call, snapshot: ConfigSnapshot, rng: random.Random | None = None
) -> list[TargetInfo]:
    name = call.requested_model
    if not model_allowed(call):
        raise ProxyError(
            403,
            "permission",
            f"This API key may not use the model {name!r}.",
            code="model_not_allowed",
            param="model",
        )
    route = snapshot.route_for(call.namespace_id, name)
    if route is not None:
        call.route = route
        plan = plan_for_route(route, rng)
        if not plan:
            raise ProxyError(
                503, "overloaded", f"Route {name!r} has no enabled target.", code="no_target"
            )
    else:
        provider_name, _, model = name.partition("/")
        provider = snapshot.providers.get(provider_name) if model else None
        if provider is not None:
            plan = [TargetInfo(provider=provider, model=model)]
        elif snapshot.default_provider is not None:
            plan = [TargetInfo(provider=snapshot.default_provider, model=name)]
        else:
            raise ProxyError(
                404,
                "not_found",
                f"The model {name!r} does not exist: no route, provider prefix or default "
                "provider matches it.",
                code="model_not_found",
                param="model",
            )
    call.plan = plan
    return plan


def visible_models(
    snapshot: ConfigSnapshot, namespace_id: int | None, allowed: tuple[str, ...]
) -> list[str]:
    """What GET /v1/models lists for a key."""
    names = {route.alias for route in snapshot.routes_visible_to(namespace_id)}
    for provider in snapshot.providers.values():
        names.update(f"{provider.name}/{model}" for model in provider.models)
        if provider is snapshot.default_provider:
            names.update(provider.models)
    if allowed:
        names = {name for name in names if name in allowed} | set(allowed)
    return sorted(names)
