"""Drive a real proxy with simulated requests, through the official `openai` SDK.

Requests are sent at their simulated times divided by `speed`, from a small
thread pool so that a burst is not slowed down by one request's latency. The
simulated client IP goes in `X-Forwarded-For` (the proxy must list 127.0.0.1
in `TRUSTED_PROXIES` to believe it), the user agent in `User-Agent`.

`prepare_keys` issues real keys for the simulated ones and can store history
for them in the request log (then `baselines_refit` learns it), so that the
proxy's detector is warm before an attack is played.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from security.anomaly.simulator.traffic import KeySpec, SimRequest, organisation_traffic


@dataclass
class Sent:
    request: SimRequest
    status: int
    code: str = ""


def prepare_keys(
    specs: list[KeySpec], *, history_days: float = 0.0, seed: int = 1
) -> tuple[list[KeySpec], dict[int, str]]:
    """Real namespaces and keys for the simulated ones; returns the specs re-numbered
    with the real ids, and their secrets. With `history_days`, normal traffic up to now
    is written to the request log (synchronous ORM: call it off the event loop)."""
    from proxy.models import RequestLog
    from proxy.services.keys import api_key_create, namespace_get_or_create

    real: list[KeySpec] = []
    secrets: dict[int, str] = {}
    for spec in specs:
        namespace = namespace_get_or_create(name=f"sim-{spec.namespace}")
        issued = api_key_create(namespace=namespace, name=spec.name)
        real.append(replace(spec, key_id=issued.key.pk, namespace_id=namespace.pk))
        secrets[issued.key.pk] = issued.secret
    if history_days:
        end = time.time()
        rows = [
            RequestLog(
                created_at=datetime.fromtimestamp(r.at, tz=UTC),
                namespace_id=r.key.namespace_id,
                api_key_id=r.key.key_id,
                endpoint="chat",
                api_format="openai",
                requested_model=r.model,
                status_code=500 if r.error else 200,
                latency_ms=100.0,
                prompt_tokens=r.prompt_tokens,
                completion_tokens=r.completion_tokens,
                client_ip=r.ip,
                user_agent=r.agent,
                annotations={"security": [{"detector": "simulated", "action": "flag"}]}
                if r.security_hits
                else {},
            )
            for r in organisation_traffic(
                random.Random(seed), real, end - history_days * 86400, end
            )
        ]
        RequestLog.objects.bulk_create(rows, batch_size=1000)
    return real, secrets


def send_one(base_url: str, secret: str, request: SimRequest) -> Sent:
    import openai

    client = openai.OpenAI(
        base_url=base_url,
        api_key=secret,
        max_retries=0,
        default_headers={"X-Forwarded-For": request.ip, "User-Agent": request.agent},
    )
    extra: dict[str, Any] = {}
    if request.max_tokens:
        extra["max_tokens"] = request.max_tokens
    try:
        client.chat.completions.create(
            model=request.model,
            messages=[{"role": "user", "content": request.text or "hello"}],
            **extra,
        )
    except openai.APIStatusError as error:
        body = error.body if isinstance(error.body, dict) else {}
        code = str((body.get("error") or body).get("code") or "") if body else ""
        return Sent(request, error.status_code, code)
    finally:
        client.close()
    return Sent(request, 200)


def play(
    requests: Iterable[SimRequest],
    *,
    base_url: str,
    secrets: dict[int, str],
    speed: float = 1.0,
    workers: int = 8,
) -> list[Sent]:
    """Send the requests at their (compressed) times; returns every outcome in order sent."""
    results: list[Sent] = []
    lock = threading.Lock()
    started = time.monotonic()
    origin: float | None = None

    def run(request: SimRequest) -> None:
        sent = send_one(base_url, secrets[request.key.key_id], request)
        with lock:
            results.append(sent)

    with ThreadPoolExecutor(workers) as pool:
        for request in requests:
            if origin is None:
                origin = request.at
            delay = (request.at - origin) / speed - (time.monotonic() - started)
            if delay > 0:
                time.sleep(delay)
            pool.submit(run, request)
    return results
