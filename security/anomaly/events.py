"""Outbound alerts: the live event seam and the webhook.

`publish(event_name, payload)` hands the event to `dashboard.broadcast.publish`
when the dashboard app provides it, and only logs it otherwise. Webhooks are
POSTed by a django-q2 task (off the request path and off the detector's
writer), through `deliver_webhook`, which refuses private and loopback
addresses unless `ANOMALY_WEBHOOK_ALLOW_PRIVATE` is set.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

log = logging.getLogger(__name__)

ANOMALY_EVENT = "anomaly.detected"


def publish(event_name: str, payload: dict[str, Any], namespace_id: int | None = None) -> None:
    try:
        from dashboard.broadcast import publish as broadcast  # type: ignore[import-not-found]
    except ImportError:
        log.info("event %s: %s", event_name, payload.get("summary", payload))
        return
    try:
        broadcast(event_name, payload, namespace_id=namespace_id)
    except Exception:  # an alert that cannot be shown live must not break the response
        log.warning("could not publish %s", event_name, exc_info=True)


class UnsafeWebhook(ValueError):
    pass


def check_webhook_url(url: str) -> None:
    """Refuse URLs that resolve to private, loopback or link-local addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeWebhook(f"not an http(s) URL: {url!r}")
    if settings.ANOMALY_WEBHOOK_ALLOW_PRIVATE:
        return
    for info in socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise UnsafeWebhook(f"{parts.hostname} resolves to a non-public address {address}")


def deliver_webhook(url: str, payload: dict[str, Any]) -> int:
    """POST the payload (a django-q2 task). Returns the HTTP status."""
    check_webhook_url(url)
    response = httpx.post(url, json=payload, timeout=settings.ANOMALY_WEBHOOK_TIMEOUT)
    log.info("anomaly webhook %s answered %s", url, response.status_code)
    return response.status_code
