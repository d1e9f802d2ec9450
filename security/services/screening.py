"""The pipeline's security stage: input screening, and the output filters it sets up.

    await screen_input(call, snapshot)

reads the policies that apply to the caller (from the snapshot, never the
database), runs their rules over the request's texts, and then:
block → raises `ProxyError(400, "policy_violation")` naming policy and detector;
redact → rewrites `call.body` (the upstream never sees the value), reversibly
when the policy says so; flag / alert → recorded (alert also notifies).
Monitor-mode policies only record what they would have done. Every hit lands in
`call.annotations["security"]` (offsets, never text); the log writer turns them
into `SecurityEvent` rows.
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings

from proxy.call import Call
from proxy.config import ConfigSnapshot
from proxy.errors import ProxyError
from security import messages
from security.engine import Hit, Outcome, PolicySet, evaluate
from security.redaction import Pseudonyms, Restorer, redact
from security.services.alerts import send_alerts
from security.services.output import OutputScanner


def policies_of(snapshot: ConfigSnapshot | None) -> PolicySet:
    found = snapshot.extra.get("security") if snapshot else None
    return found if isinstance(found, PolicySet) else PolicySet()


def record(call: Call, hits: list[Hit], direction: str) -> None:
    if hits:
        events: list[dict[str, Any]] = call.annotations.setdefault("security", [])
        events.extend(h.as_event(direction) for h in hits)


def block_error(hit: Hit, direction: str) -> ProxyError:
    noun = "request" if direction == "input" else "response"
    return ProxyError(
        400,
        "policy_violation",
        f"The {noun} was blocked by security policy {hit.policy.name!r} "
        f"(detector {hit.detection.detector}: {hit.detection.label}).",
        code="policy_violation",
    )


async def screen_input(call: Call, snapshot: ConfigSnapshot) -> None:
    policy_set = policies_of(snapshot)
    if not policy_set.policies:
        return
    inputs = policy_set.for_request(call.namespace_id, call.key.id if call.key else None, "input")
    outputs = policy_set.for_request(call.namespace_id, call.key.id if call.key else None, "output")
    pseudonyms = Pseudonyms() if any(p.reversible and p.mode == "enforce" for p in inputs) else None
    if inputs:
        places = messages.text_places(call.body)
        segments = messages.segments(places)
        size = sum(len(s.text) for s in segments)
        if size > settings.SECURITY_THREAD_CHARS:  # long prompts: off the event loop
            outcome = await asyncio.to_thread(
                evaluate, inputs, segments, model=call.requested_model
            )
        else:
            outcome = evaluate(inputs, segments, model=call.requested_model)
        record(call, outcome.hits, "input")
        send_alerts(call, outcome, "input")
        blocked = outcome.block
        apply_redactions(outcome, places, pseudonyms, everything=blocked is not None)
        if blocked is not None:
            raise block_error(blocked, "input")
    if outputs:
        call.output_filters.append(lambda: OutputScanner(call, outputs))
    if pseudonyms is not None and pseudonyms.by_placeholder:
        call.output_filters.append(lambda: Restorer(pseudonyms))


def apply_redactions(
    outcome: Outcome,
    places: list[tuple[str, messages.Place]],
    pseudonyms: Pseudonyms | None,
    *,
    everything: bool = False,
) -> None:
    """Rewrite the body in place. When blocking, every detected span goes (the log keeps no value)."""
    for index, (_, place) in enumerate(places):
        hits = (
            [h for h in outcome.hits if h.segment == index and h.detection.end > h.detection.start]
            if everything
            else outcome.redactions(index)
        )
        hits = [h for h in hits if h.detection.detector != "injection" or not everything]
        if not hits:
            continue
        spans = [(h.detection.start, h.detection.end, h.detection.label) for h in hits]
        reversible = pseudonyms if any(h.policy.reversible for h in hits) else None
        messages.write_back(places, index, redact(place.container[place.key], spans, reversible))
