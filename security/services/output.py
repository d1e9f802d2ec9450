"""Output scanning: a stream text filter that applies output policies to the
response text with a hold-back window, so a value split across chunks is still caught.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from security.engine import CompiledPolicy, Segment, evaluate
from security.redaction import redact

if TYPE_CHECKING:
    from proxy.call import Call


class OutputScanner:
    """Holds back the last `SECURITY_HOLD_BACK_CHARS` characters (and any detection
    still touching the tail) until more text arrives or the text ends."""

    def __init__(self, call: Call, policies: list[CompiledPolicy]) -> None:
        self.call = call
        self.policies = policies
        self.hold = settings.SECURITY_HOLD_BACK_CHARS
        self.buffer = ""
        self.emitted = 0  # characters released so far (offsets in events are absolute)

    def feed(self, text: str) -> str:
        self.buffer += text
        return self._release(final=False)

    def flush(self) -> str:
        return self._release(final=True)

    def _release(self, *, final: bool) -> str:
        from security.services.alerts import send_alerts
        from security.services.screening import block_error, record

        if not self.buffer:
            return ""
        outcome = evaluate(self.policies, [Segment(0, "assistant", self.buffer)])
        cut = len(self.buffer) if final else max(0, len(self.buffer) - self.hold)
        for hit in outcome.hits:
            d = hit.detection
            if d.start < cut < d.end or (not final and d.end >= cut and d.start < cut):
                cut = min(cut, d.start)
        released = [h for h in outcome.hits if h.detection.end <= cut or final]
        if released:
            shifted = [_shift(h, self.emitted) for h in released]
            record(self.call, shifted, "output")
            send_alerts(self.call, outcome.__class__(shifted), "output")
            blocked = next(
                (h for h in released if h.policy.mode == "enforce" and h.rule.action == "block"),
                None,
            )
            if blocked is not None:
                self.buffer = ""
                raise block_error(blocked, "output")
        spans = [
            (h.detection.start, h.detection.end, h.detection.label)
            for h in released
            if h.policy.mode == "enforce"
            and h.rule.action == "redact"
            and h.detection.end > h.detection.start
        ]
        out = redact(self.buffer[:cut], spans) if spans else self.buffer[:cut]
        self.buffer = self.buffer[cut:]
        self.emitted += cut
        return out


def _shift(hit, offset: int):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    return replace(
        hit,
        detection=replace(
            hit.detection, start=hit.detection.start + offset, end=hit.detection.end + offset
        ),
    )
