"""The texts of a request body (OpenAI or Anthropic shape), with a way to write them back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from security.engine import Segment


@dataclass(frozen=True, slots=True)
class Place:
    container: Any  # the dict or list holding the text
    key: Any  # its key or index


def _content_places(content: Any, holder: Any, key: Any) -> list[Place]:
    if isinstance(content, str):
        return [Place(holder, key)]
    places = []
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str):
                places.append(Place(part, "text"))
            elif "content" in part:  # Anthropic tool_result blocks
                places.extend(_content_places(part["content"], part, "content"))
    return places


def text_places(body: dict[str, Any]) -> list[tuple[str, Place]]:
    """(role, place) for every text the body carries, in order."""
    found: list[tuple[str, Place]] = []
    if "system" in body:  # Anthropic's top-level system prompt
        found.extend(("system", p) for p in _content_places(body["system"], body, "system"))
    for message in body.get("messages") or ():
        if isinstance(message, dict) and "content" in message:
            role = str(message.get("role", "user"))
            if isinstance(message["content"], list) and any(
                isinstance(b, dict) and b.get("type") == "tool_result" for b in message["content"]
            ):
                role = "tool"
            found.extend((role, p) for p in _content_places(message["content"], message, "content"))
    for key in ("prompt", "input"):  # completions and embeddings
        value = body.get(key)
        if isinstance(value, str):
            found.append(("user", Place(body, key)))
        elif isinstance(value, list):
            found.extend(
                ("user", Place(value, i)) for i, v in enumerate(value) if isinstance(v, str)
            )
    return found


def segments(places: list[tuple[str, Place]]) -> list[Segment]:
    return [Segment(i, role, p.container[p.key]) for i, (role, p) in enumerate(places)]


def write_back(places: list[tuple[str, Place]], index: int, text: str) -> None:
    place = places[index][1]
    place.container[place.key] = text
