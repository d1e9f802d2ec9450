"""Alert rules: the request goes on, and the policy's webhook receives the event (no text)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest


@pytest.fixture
def webhook():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def test_an_alert_posts_to_the_webhook_and_lets_the_request_through(
    gateway, policy, webhook, settings
):
    settings.ANOMALY_WEBHOOK_ALLOW_PRIVATE = True  # the test's webhook listens on loopback
    url, received = webhook
    policy("alerting", webhook_url=url, rules=[{"detector": "secrets", "action": "alert"}])
    key = "AKIAIOSFODNN7EXAMPLE"
    reply = gateway.openai().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"use {key}"}]
    )
    assert key in reply.choices[0].message.content
    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:
        time.sleep(0.02)
    (event,) = received
    assert event["kind"] == "security" and event["policy"] == "alerting"
    assert (event["label"], event["action_taken"], event["start"], event["end"]) == (
        "aws_access_key",
        "alert",
        4,
        24,
    )
    assert key not in json.dumps(event)


def test_an_alert_webhook_on_a_private_address_is_refused(gateway, policy, webhook):
    url, received = webhook
    policy("alerting", webhook_url=url, rules=[{"detector": "secrets", "action": "alert"}])
    gateway.openai().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "use AKIAIOSFODNN7EXAMPLE"}]
    )
    time.sleep(0.5)
    assert received == []


def test_an_alert_reaches_the_live_dashboard(gateway, policy, monkeypatch):
    from dashboard import broadcast

    published = []
    monkeypatch.setattr(
        broadcast, "publish", lambda name, data, namespace_id=None: published.append((name, data))
    )
    policy("alerting", rules=[{"detector": "secrets", "action": "alert"}])
    gateway.openai().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "use AKIAIOSFODNN7EXAMPLE"}]
    )
    deadline = time.monotonic() + 5
    while not published and time.monotonic() < deadline:
        time.sleep(0.02)
    assert published and published[0][0] == "alert"
    assert published[0][1]["label"] == "aws_access_key"
    assert "AKIAIOSFODNN7EXAMPLE" not in str(published)
