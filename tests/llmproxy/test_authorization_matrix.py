"""Who may do what, route by route: anonymous, a key of namespace A, a key of namespace B, staff.

`ROUTES` is a table: one row per route and what each persona gets. Namespace A has a
private route alias `a-private` (to the model `a-secret-model`); namespace B must
not see it, and its requests for that name never reach A's target. Staff are logged
into the admin (a session, no key): the proxy API still wants a key.

To cover a new route, add a row (for WebSocket routes, add a row whose `request` opens
the socket and returns a status-like int: 101 accepted, 403 refused).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.conftest import Gateway, make_key

PERSONAS = ("anonymous", "key_a", "key_b", "staff")


@dataclass
class World:
    url: str
    headers: dict[str, dict[str, str]]
    cookies: dict[str, dict[str, str]] = field(default_factory=dict)


Expect = dict[str, int | tuple[int, ...]]


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    path: str
    expect: Expect
    body: dict[str, Any] | None = None
    check: Callable[[str, httpx.Response], None] | None = None  # more than the status
    route: str = ""  # the URL pattern, when the path fills in its parameters

    @property
    def pattern(self) -> str:
        return self.route or self.path.split("?")[0]


def chat(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}]}


def message(model: str) -> dict[str, Any]:
    return {**chat(model), "max_tokens": 5}


def only_namespace_a_reaches_its_private_target(persona: str, response: httpx.Response) -> None:
    """B's request for `a-private` matches no route of B's: the default provider gets the
    name as it is; it never reaches A's target model."""
    if response.status_code == 200:
        assert (response.json()["model"] == "a-secret-model") is (persona == "key_a")


def models_seen_by_persona(persona: str, response: httpx.Response) -> None:
    if response.status_code != 200:
        return
    names = {m["id"] for m in response.json()["data"]}
    assert ("a-private" in names) is (persona == "key_a"), names


KEYED = {"anonymous": 401, "staff": 401}
ROUTES: list[Row] = [
    Row("chat, shared model", "POST", "/v1/chat/completions", {**KEYED, "key_a": 200, "key_b": 200}, chat("m")),
    Row("chat, A's private route", "POST", "/v1/chat/completions", {**KEYED, "key_a": 200, "key_b": 200}, chat("a-private"), only_namespace_a_reaches_its_private_target),
    Row("embeddings", "POST", "/v1/embeddings", {**KEYED, "key_a": 200, "key_b": 200}, {"model": "m", "input": "x"}),
    Row("models", "GET", "/v1/models", {**KEYED, "key_a": 200, "key_b": 200}, check=models_seen_by_persona),
    Row("messages, shared model", "POST", "/v1/messages", {**KEYED, "key_a": 200, "key_b": 200}, message("m")),
    Row("messages, A's private route", "POST", "/v1/messages", {**KEYED, "key_a": 200, "key_b": 200}, message("a-private"), only_namespace_a_reaches_its_private_target),
    Row("count_tokens", "POST", "/v1/messages/count_tokens", {**KEYED, "key_a": 400, "key_b": 400}, message("m")),
    Row("openapi schema (public)", "GET", "/api/openapi.json", dict.fromkeys(PERSONAS, 200)),
    Row("api docs (public)", "GET", "/api/docs", dict.fromkeys(PERSONAS, 200)),
    Row("admin", "GET", "/admin/", {"anonymous": 302, "key_a": 302, "key_b": 302, "staff": 200}),
    Row("admin request logs", "GET", "/admin/proxy/requestlog/", {"anonymous": 302, "key_a": 302, "key_b": 302, "staff": 200}),
    Row("admin providers", "GET", "/admin/proxy/provider/", {"anonymous": 302, "key_a": 302, "key_b": 302, "staff": 200}),
    Row("healthz", "GET", "/healthz", dict.fromkeys(PERSONAS, 200)),
    Row("readyz", "GET", "/readyz", dict.fromkeys(PERSONAS, 200)),
    Row("api root (ninja's empty pattern)", "GET", "/", dict.fromkeys(PERSONAS, 404)),
    # --- management API, analytics (staff session) ---
    *(
        Row(f"analytics {name}", "GET", f"/api/analytics/{name}", {"anonymous": 401, "key_a": 401, "key_b": 401, "staff": 200})
        for name in ("summary", "timeseries", "breakdown", "insights", "timeseries.csv")
    ),
    # --- security scan (staff session; a POST without the CSRF token is refused) ---
    # ninja's session auth checks CSRF first: a POST without the token is refused (403) for all.
    Row("security scan", "POST", "/api/security/scan", dict.fromkeys(PERSONAS, 403), {"text": "hello"}),
    # --- feedback and patterns (virtual keys; staff-only training) ---
    Row("feedback on an unknown request", "POST", "/api/feedback", {**KEYED, "key_a": 404, "key_b": 404}, {"request_id": "0" * 32, "score": 1}),
    Row("patterns", "GET", "/api/patterns", {**KEYED, "key_a": 200, "key_b": 200}),
    Row("a pattern that is not there", "GET", "/api/patterns/999999", {**KEYED, "key_a": 404, "key_b": 404}, route="/api/patterns/<int:pattern_id>"),
    Row("classify", "POST", "/api/patterns/classify", {**KEYED, "key_a": 200, "key_b": 200}, {"items": [{"id": 1, "text": "hello"}]}),
    Row("train patterns", "POST", "/api/patterns/train", dict.fromkeys(PERSONAS, 403), {}),
    Row("learn patterns", "POST", "/api/patterns/learn", dict.fromkeys(PERSONAS, 403), {}),
    # --- dashboard (staff login) and Prometheus ---
    *(
        Row(f"dashboard {name or 'home'}", "GET", f"/dashboard/{name}", {"anonymous": 302, "key_a": 302, "key_b": 302, "staff": 200})
        for name in ("", "analytics/", "enhancements/", "live/", "patterns/", "security/")
    ),
    Row("dashboard login", "GET", "/dashboard/login/", dict.fromkeys(PERSONAS, 200)),
    Row("dashboard, a request that is not there", "GET", "/dashboard/requests/nope/", {"anonymous": 302, "key_a": 302, "key_b": 302, "staff": 404}, route="/dashboard/requests/<str:request_id>/"),
    Row("metrics (off without METRICS_TOKEN)", "GET", "/metrics", dict.fromkeys(PERSONAS, 404)),
]  # fmt: skip


@pytest.fixture
def world(gateway: Gateway, django_user_model: Any) -> Iterator[World]:
    from django.test import Client

    from proxy.models import Route, RouteTarget
    from proxy.runtime import get_runtime

    route = Route.objects.create(namespace=gateway.namespace, alias="a-private")
    RouteTarget.objects.create(route=route, provider=gateway.provider, model="a-secret-model")
    key_b, _ = make_key(namespace="team-b", name="b")
    get_runtime().invalidate_config()
    staff = django_user_model.objects.create_user(
        "staff", password="pw", is_staff=True, is_superuser=True
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(staff)
    session = client.cookies["sessionid"].value
    yield World(
        url=gateway.url,
        headers={
            "anonymous": {},
            "key_a": {"authorization": f"Bearer {gateway.key}"},
            "key_b": {"authorization": f"Bearer {key_b}"},
            "staff": {},
        },
        cookies={"staff": {"sessionid": session}},
    )


@pytest.mark.parametrize("row", ROUTES, ids=[row.name for row in ROUTES])
def test_each_persona_gets_what_the_table_says(world: World, row: Row) -> None:
    got = {}
    for persona in PERSONAS:
        with httpx.Client(cookies=world.cookies.get(persona, {})) as client:
            response = client.request(
                row.method, world.url + row.path, json=row.body, headers=world.headers[persona]
            )
        got[persona] = response.status_code
        if row.check is not None:
            row.check(persona, response)
    assert got == row.expect


def test_the_table_covers_every_route_the_app_serves() -> None:
    """A new route without a row fails here: add it to ROUTES."""
    from django.urls import get_resolver

    def patterns(resolver: Any, prefix: str = "") -> Iterator[str]:
        for entry in resolver.url_patterns:
            route = prefix + str(entry.pattern)
            if hasattr(entry, "url_patterns"):
                if route.startswith("admin/"):
                    yield "/admin/"
                    continue
                yield from patterns(entry, route)
            else:
                yield "/" + route

    served = set(patterns(get_resolver()))
    covered = {row.pattern for row in ROUTES}
    assert served - covered == set(), "routes without a row in ROUTES"
