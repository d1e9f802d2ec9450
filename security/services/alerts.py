"""Alerts: a live `alert` event on the dashboard (`dashboard.broadcast`) and an
optional webhook per policy (refused when it resolves to a private address). Both are sent off the request path, carry no sensitive text,
and never fail the request.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from django.apps import apps

if TYPE_CHECKING:
    from proxy.call import Call
    from security.engine import Outcome

log = logging.getLogger(__name__)


def send_alerts(call: Call, outcome: Outcome, direction: str) -> None:
    hits = [h for h in outcome.hits if h.rule.action == "alert"]
    if not hits:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    for hit in hits:
        payload = {
            "kind": "security",
            "request_id": call.request_id,
            "namespace_id": call.namespace_id,
            "api_key_id": call.key.id if call.key else None,
            **hit.as_event(direction),
        }
        tasks = apps.get_app_config("security").background_tasks  # type: ignore[attr-defined]
        task = loop.create_task(_deliver(payload, hit.policy.webhook_url))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


async def _deliver(payload: dict[str, Any], webhook_url: str) -> None:
    from dashboard.broadcast import publish
    from security.anomaly.events import UnsafeWebhook, check_webhook_url

    try:
        publish("alert", payload, namespace_id=payload.get("namespace_id"))
    except Exception:
        log.warning("security alert: live event not sent", exc_info=True)
    if not webhook_url:
        return
    from proxy.runtime import get_runtime

    try:
        await asyncio.to_thread(check_webhook_url, webhook_url)
    except (UnsafeWebhook, OSError) as error:
        log.warning("security alert: webhook refused: %s", error)
        return
    try:
        response = await get_runtime().upstream.send(
            provider="security-webhook",
            url=webhook_url,
            headers={"content-type": "application/json"},
            content=json.dumps(payload).encode(),
            timeout=5.0,
        )
        await response.aclose()
    except Exception:
        log.warning("security alert: webhook %s failed", webhook_url, exc_info=True)
