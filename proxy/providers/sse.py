"""Server-sent events: splitting a byte stream into events, reading their data.

Pure functions over bytes, shared by every adapter's stream scanner.
"""

from __future__ import annotations

import json
from typing import Any


class EventSplitter:
    """Feeds raw bytes, yields complete SSE events (each ending with a blank line)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self._buffer + chunk
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        events = data.split(b"\n\n")
        self._buffer = events.pop()
        return [event + b"\n\n" for event in events if event.strip()]

    def rest(self) -> bytes:
        """What is left when the stream ends: an event cut off mid-way, if any."""
        rest, self._buffer = self._buffer, b""
        return rest


def event_data(event: bytes) -> bytes:
    """The concatenated `data:` lines of one event."""
    parts = []
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            parts.append(line[5:].lstrip(b" "))
    return b"\n".join(parts)


def event_name(event: bytes) -> str:
    for line in event.split(b"\n"):
        if line.startswith(b"event:"):
            return line[6:].strip().decode("utf-8", "replace")
    return ""


def event_json(event: bytes) -> Any:
    """The event's data parsed as JSON, or None (`[DONE]`, comments, bad JSON)."""
    data = event_data(event)
    if not data or data == b"[DONE]":
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def is_malformed(event: bytes) -> bool:
    """Whether the event carries data that is neither `[DONE]` nor JSON.

    Every stream event of both APIs is JSON; one that is not would break the
    client's SDK in the middle of its stream, so the relay drops it and notes
    it on the request's log record.
    """
    data = event_data(event)
    if not data or data == b"[DONE]":
        return False
    try:
        json.loads(data)
    except ValueError:
        return True
    return False


def encode_event(payload: Any, name: str | None = None) -> bytes:
    head = f"event: {name}\n" if name else ""
    return (head + "data: " + json.dumps(payload, separators=(",", ":")) + "\n\n").encode()
