"""Who may do what, route by route and socket by socket.

Personas: anonymous, a key of namespace A, a key of namespace B, staff (logged into the
admin: a session, no key) and a viewer of namespace A (a logged-in user, not staff,
with a membership of A only: see dashboard/selectors.py).

`ROUTES` is a table: one row per HTTP route and what each persona gets. Namespace A has
a private route alias `a-private` (to the model `a-secret-model`); namespace B must not
see it, and its requests for that name never reach A's target. One request of A and one
of B are on record: the viewer of A sees A's and is told B's does not exist.

`SOCKETS` is the same table for WebSocket routes: each persona opens the socket through
the running server (101 accepted, 403 refused); then one event is published for A and
one for B, and the row says whose events reach each persona that got in.

A route (HTTP or WebSocket) that the app serves and that has no row fails
`test_the_tables_cover_every_route_the_app_serves`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
import pytest

from tests.conftest import Gateway, make_key

PERSONAS = ("anonymous", "key_a", "key_b", "staff", "viewer_a")


@dataclass
class World:
    url: str
    headers: dict[str, dict[str, str]]
    cookies: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)  # filled into rows' paths
    namespace_ids: dict[str, int] = field(default_factory=dict)  # "A", "B"


Expect = dict[str, int | tuple[int, ...]]


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    path: str
    expect: Expect
    body: dict[str, Any] | None = None
    check: Callable[[str, httpx.Response, World], None] | None = None  # more than the status
    route: str = ""  # the URL pattern, when the path fills in its parameters

    @property
    def pattern(self) -> str:
        return self.route or self.path.split("?")[0]


@dataclass(frozen=True)
class SocketRow:
    name: str
    path: str
    expect: Expect  # 101: accepted; 403: refused at the handshake
    sees: dict[str, set[str]]  # for each persona let in: the namespaces whose events arrive

    @property
    def pattern(self) -> str:
        return self.path


def chat(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}]}


def message(model: str) -> dict[str, Any]:
    return {**chat(model), "max_tokens": 5}


def only_namespace_a_reaches_its_private_target(
    persona: str, response: httpx.Response, world: World
) -> None:
    """B's request for `a-private` matches no route of B's: the default provider gets the
    name as it is; it never reaches A's target model."""
    if response.status_code == 200:
        assert (response.json()["model"] == "a-secret-model") is (persona == "key_a")


def models_seen_by_persona(persona: str, response: httpx.Response, world: World) -> None:
    if response.status_code != 200:
        return
    names = {m["id"] for m in response.json()["data"]}
    assert ("a-private" in names) is (persona == "key_a"), names


def recent_requests_seen_by_persona(persona: str, response: httpx.Response, world: World) -> None:
    """The page's recent requests (prefilled from the log): staff see A's and B's, the
    viewer of A only A's."""
    if response.status_code != 200:
        return
    seen = {name for name in ("request_a", "request_b") if world.ids[name] in response.text}
    assert seen == ({"request_a", "request_b"} if persona == "staff" else {"request_a"}), seen


def statuses(
    *, anonymous: int, key_a: int, key_b: int, staff: int, viewer_a: int
) -> dict[str, int | tuple[int, ...]]:
    return {
        "anonymous": anonymous,
        "key_a": key_a,
        "key_b": key_b,
        "staff": staff,
        "viewer_a": viewer_a,
    }


def everyone(status: int) -> Expect:
    return dict.fromkeys(PERSONAS, status)


def keyed(status: int) -> Expect:
    """Virtual keys only: a session (staff or viewer) is no key."""
    return statuses(anonymous=401, key_a=status, key_b=status, staff=401, viewer_a=401)


def admin_only(status: int) -> Expect:
    """The admin: staff only; everyone else is sent to its login page."""
    return statuses(anonymous=302, key_a=302, key_b=302, staff=status, viewer_a=302)


def dashboard(staff: int, viewer_a: int) -> Expect:
    """The dashboard: staff and namespace viewers; everyone else is sent to its login page."""
    return statuses(anonymous=302, key_a=302, key_b=302, staff=staff, viewer_a=viewer_a)


def analytics(staff: int, viewer_a: int) -> Expect:
    """The analytics API: a session (staff or viewer); keys and anonymous get 401."""
    return statuses(anonymous=401, key_a=401, key_b=401, staff=staff, viewer_a=viewer_a)


REQUEST_DETAIL = "/dashboard/requests/<str:request_id>/"
ROUTES: list[Row] = [
    Row("chat, shared model", "POST", "/v1/chat/completions", keyed(200), chat("m")),
    Row("chat, A's private route", "POST", "/v1/chat/completions", keyed(200), chat("a-private"), only_namespace_a_reaches_its_private_target),
    Row("embeddings", "POST", "/v1/embeddings", keyed(200), {"model": "m", "input": "x"}),
    Row("models", "GET", "/v1/models", keyed(200), check=models_seen_by_persona),
    Row("messages, shared model", "POST", "/v1/messages", keyed(200), message("m")),
    Row("messages, A's private route", "POST", "/v1/messages", keyed(200), message("a-private"), only_namespace_a_reaches_its_private_target),
    Row("count_tokens", "POST", "/v1/messages/count_tokens", keyed(400), message("m")),
    Row("openapi schema (public)", "GET", "/api/openapi.json", everyone(200)),
    Row("api docs (public)", "GET", "/api/docs", everyone(200)),
    Row("admin", "GET", "/admin/", admin_only(200)),
    Row("admin request logs", "GET", "/admin/proxy/requestlog/", admin_only(200)),
    Row("admin providers", "GET", "/admin/proxy/provider/", admin_only(200)),
    Row("admin, B's request", "GET", "/admin/proxy/requestlog/{request_b}/change/", admin_only(200), route="/admin/"),
    Row("healthz", "GET", "/healthz", everyone(200)),
    Row("readyz", "GET", "/readyz", everyone(200)),
    Row("api root (ninja's empty pattern)", "GET", "/", everyone(404)),
    # --- management API, analytics (a session: staff everything, a viewer their namespaces) ---
    *(
        Row(f"analytics {name}", "GET", f"/api/analytics/{name}", analytics(200, 200))
        for name in ("summary", "timeseries", "breakdown", "insights", "timeseries.csv")
    ),
    Row("analytics summary of A", "GET", "/api/analytics/summary?namespace_id={namespace_a}", analytics(200, 200)),
    Row("analytics summary of B", "GET", "/api/analytics/summary?namespace_id={namespace_b}", analytics(200, 403)),
    Row("analytics CSV of B", "GET", "/api/analytics/timeseries.csv?namespace_id={namespace_b}", analytics(200, 403)),
    # --- security scan (staff session; a POST without the CSRF token is refused) ---
    # ninja's session auth checks CSRF first: a POST without the token is refused (403) for all.
    Row("security scan", "POST", "/api/security/scan", everyone(403), {"text": "hello"}),
    # --- feedback and patterns (virtual keys; staff-only training) ---
    Row("feedback on an unknown request", "POST", "/api/feedback", keyed(404), {"request_id": "0" * 32, "score": 1}),
    Row("feedback on B's request", "POST", "/api/feedback", keyed(404) | {"key_b": 201}, {"request_id": "{request_b}", "score": 1}),
    Row("patterns", "GET", "/api/patterns", keyed(200)),
    Row("a pattern that is not there", "GET", "/api/patterns/999999", keyed(404), route="/api/patterns/<int:pattern_id>"),
    Row("classify", "POST", "/api/patterns/classify", keyed(200), {"items": [{"id": 1, "text": "hello"}]}),
    Row("train patterns", "POST", "/api/patterns/train", everyone(403), {}),
    Row("learn patterns", "POST", "/api/patterns/learn", everyone(403), {}),
    # --- dashboard (staff or a namespace viewer) and Prometheus ---
    *(
        Row(f"dashboard {name or 'home'}", "GET", f"/dashboard/{name}", dashboard(200, 200), check=recent_requests_seen_by_persona if name in ("", "live/") else None)
        for name in ("", "analytics/", "enhancements/", "live/", "patterns/", "security/")
    ),
    Row("dashboard login", "GET", "/dashboard/login/", everyone(200)),
    Row("dashboard, a request that is not there", "GET", "/dashboard/requests/nope/", dashboard(404, 404), route=REQUEST_DETAIL),
    Row("dashboard, A's request", "GET", "/dashboard/requests/{request_a}/", dashboard(200, 200), route=REQUEST_DETAIL),
    Row("dashboard, B's request", "GET", "/dashboard/requests/{request_b}/", dashboard(200, 404), route=REQUEST_DETAIL),
    Row("metrics (off without METRICS_TOKEN)", "GET", "/metrics", everyone(404)),
]  # fmt: skip

SOCKETS: list[SocketRow] = [
    SocketRow(
        "dashboard events",
        "/dashboard/ws/events/",
        statuses(anonymous=403, key_a=403, key_b=403, staff=101, viewer_a=101),
        sees={"staff": {"A", "B"}, "viewer_a": {"A"}},
    ),
]


def recorded_request(namespace: Any, api_key: Any) -> str:
    from django.utils import timezone

    from proxy.models import RequestLog

    log = RequestLog.objects.create(
        created_at=timezone.now(),
        namespace=namespace,
        api_key=api_key,
        endpoint="chat",
        api_format="openai",
        requested_model="m",
        status_code=200,
        latency_ms=1.0,
    )
    return str(log.id)


@pytest.fixture
def local_hub() -> Iterator[None]:
    """Events stay in this process: the server under test runs in it (restored afterwards)."""
    from django.apps import apps

    from dashboard.hub import EventHub
    from dashboard.transports import LocalTransport

    config = apps.get_app_config("dashboard")
    previous = getattr(config, "hub", None)
    config.hub = EventHub(transport=LocalTransport())  # type: ignore[attr-defined]
    yield
    config.hub = previous  # type: ignore[attr-defined]


@pytest.fixture
def world(gateway: Gateway, django_user_model: Any, local_hub: None) -> Iterator[World]:
    from django.test import Client

    from dashboard.models import NamespaceMembership
    from proxy.models import Route, RouteTarget
    from proxy.runtime import get_runtime

    route = Route.objects.create(namespace=gateway.namespace, alias="a-private")
    RouteTarget.objects.create(route=route, provider=gateway.provider, model="a-secret-model")
    key_b, api_key_b = make_key(namespace="team-b", name="b")
    get_runtime().invalidate_config()
    staff = django_user_model.objects.create_user(
        "staff", password="pw", is_staff=True, is_superuser=True
    )
    viewer = django_user_model.objects.create_user("viewer-a", password="pw")
    NamespaceMembership.objects.create(user=viewer, namespace=gateway.namespace)

    def session_of(user: Any) -> str:
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        return client.cookies["sessionid"].value

    yield World(
        url=gateway.url,
        headers={
            "anonymous": {},
            "key_a": {"authorization": f"Bearer {gateway.key}"},
            "key_b": {"authorization": f"Bearer {key_b}"},
            "staff": {},
            "viewer_a": {},
        },
        cookies={
            "staff": {"sessionid": session_of(staff)},
            "viewer_a": {"sessionid": session_of(viewer)},
        },
        ids={
            "request_a": recorded_request(gateway.namespace, gateway.api_key),
            "request_b": recorded_request(api_key_b.namespace, api_key_b),
            "namespace_a": gateway.namespace.id,
            "namespace_b": api_key_b.namespace.id,
        },
        namespace_ids={"A": gateway.namespace.id, "B": api_key_b.namespace.id},
    )


def filled(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {name: filled(item, ids) for name, item in value.items()}
    return value


@pytest.mark.parametrize("row", ROUTES, ids=[row.name for row in ROUTES])
def test_each_persona_gets_what_the_table_says(world: World, row: Row) -> None:
    got = {}
    for persona in PERSONAS:
        with httpx.Client(cookies=world.cookies.get(persona, {})) as client:
            response = client.request(
                row.method,
                world.url + filled(row.path, world.ids),
                json=filled(row.body, world.ids),
                headers=world.headers[persona],
            )
        got[persona] = response.status_code
        if row.check is not None:
            row.check(persona, response, world)
    assert got == row.expect


async def events_seen_on_socket(world: World, persona: str, path: str) -> tuple[int, set[str]]:
    """Open the socket as `persona`; once in, publish one event for A and one for B, and
    return the namespaces whose events arrived (waiting for the last one published)."""
    from dashboard import broadcast

    url = world.url.replace("http://", "ws://") + path
    headers = {"origin": world.url, **world.headers[persona]}
    cookies = world.cookies.get(persona, {})
    async with aiohttp.ClientSession(cookies=cookies) as session:
        try:
            socket = await session.ws_connect(
                url, headers=headers, timeout=aiohttp.ClientWSTimeout(ws_close=5)
            )
        except aiohttp.WSServerHandshakeError as refused:
            return refused.status, set()
        async with socket:
            names = {world.namespace_ids[n]: n for n in ("A", "B")}
            # B's first: events reach a browser in order, so once A's is there,
            # B's would have been too.
            for name in ("B", "A"):
                broadcast.publish("alert", {"probe": name}, namespace_id=world.namespace_ids[name])
            seen: set[str] = set()
            deadline = time.monotonic() + 5
            while "A" not in seen and (persona != "staff" or "B" not in seen):
                message = await socket.receive(timeout=max(0.01, deadline - time.monotonic()))
                for event in message.json()["events"]:
                    seen.add(names[event["namespace_id"]])
            return 101, seen


@pytest.mark.parametrize("row", SOCKETS, ids=[row.name for row in SOCKETS])
def test_each_persona_gets_what_the_table_says_on_websockets(world: World, row: SocketRow) -> None:
    got, seen = {}, {}
    for persona in PERSONAS:
        got[persona], events = asyncio.run(events_seen_on_socket(world, persona, row.path))
        if got[persona] == 101:
            seen[persona] = events
    assert got == row.expect
    assert seen == row.sees


def websocket_routes_the_app_serves() -> set[str]:
    """Every WebSocket path the ASGI application routes, through its middleware."""
    from channels.routing import URLRouter

    from llmproxy.asgi import application

    def walk(app: Any, prefix: str) -> Iterator[str]:
        while not isinstance(app, URLRouter):  # origin check, cookies, session, auth
            app = getattr(app, "application", None) or app.inner
        for route in app.routes:
            pattern = prefix + str(route.pattern)
            if isinstance(route.callback, URLRouter):  # path("x/", URLRouter([...]))
                yield from walk(route.callback, pattern)
            else:
                yield "/" + pattern

    return set(walk(application.application_mapping["websocket"], ""))


def test_the_tables_cover_every_route_the_app_serves() -> None:
    """A new route (HTTP or WebSocket) without a row fails here: add it to ROUTES or SOCKETS."""
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
    sockets = websocket_routes_the_app_serves()
    assert "/dashboard/ws/events/" in sockets  # found through the middleware
    assert sockets - {row.pattern for row in SOCKETS} == set(), "sockets without a row in SOCKETS"
