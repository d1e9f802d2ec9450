"""ASGI entry point.

HTTP under `/v1/` (the proxy API, the hot path) goes through `ProxyASGIHandler`,
a lighter Django handler (see `llmproxy/handlers.py`); every other HTTP path
(admin, `/api/`, health) through Django's standard handler; WebSockets through
Channels; the ASGI lifespan's shutdown (uvicorn) flushes the request log.
"""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "llmproxy.settings")

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.conf import settings
from django.core.asgi import get_asgi_application

django_application = get_asgi_application()  # sets Django up first

from llmproxy.handlers import ProxyASGIHandler, lifespan_application  # noqa: E402

proxy_application = ProxyASGIHandler()

PROXY_PREFIX = "/v1/"


async def http_application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Send the proxy API to the light handler, everything else to Django's own."""
    if scope["path"].startswith(PROXY_PREFIX):
        await proxy_application(scope, receive, send)
    else:
        await django_application(scope, receive, send)


from dashboard.routing import websocket_urlpatterns  # noqa: E402  (needs the app registry)

application = ProtocolTypeRouter(
    {
        "http": http_application,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
        "lifespan": lifespan_application,
    }
)


# The cyclic garbage collector stops the event loop, and every proxied request and
# WebSocket frame with it, for as long as a collection takes. A full collection walked
# the 190,000 objects a server has after start-up in about 100 ms (bench/RESULTS.md).
# What is loaded by now lives as long as the process: freeze it out of the collector's
# scans. Larger thresholds (SERVER_GC_THRESHOLDS) let a request's short-lived objects die
# before a collection can promote them, which makes full collections rare.
gc.collect()  # start-up's own garbage is not frozen with the rest
gc.freeze()
gc.set_threshold(*settings.SERVER_GC_THRESHOLDS)
