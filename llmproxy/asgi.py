"""ASGI entry point.

HTTP under `/v1/` (the proxy API, the hot path) goes through `ProxyASGIHandler`,
a lighter Django handler (see `llmproxy/handlers.py`); every other HTTP path
(admin, `/api/`, health) through Django's standard handler; WebSockets through
Channels; the ASGI lifespan's shutdown (uvicorn) flushes the request log.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "llmproxy.settings")

from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
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
