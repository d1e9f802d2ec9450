"""The hot-path stage: give a request its pattern, from memory, in microseconds.

`snapshot_templates` (a `proxy.config.SNAPSHOT_EXTENSIONS` loader) compiles
every stored template into a `TemplateIndex` when the configuration snapshot is
built; the discovery job bumps the configuration version when templates change,
so every process reloads them within `CONFIG_REFRESH_SECONDS`.

`annotate_pattern(call)` runs on the request path: tokenize the prompt, match
it against the index, and write the pattern into `call.annotations` (and the
match, with its variables, into `call.pattern` for later stages). It never
touches the database. Feedback given in a header is noted in the annotations
too; the insight job stores it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from intelligence.services.templates import (
    Match,
    TemplateIndex,
    prompt_messages,
    tokenize_messages,
)
from proxy.call import Call
from proxy.config import ConfigSnapshot

FEEDBACK_HEADER = "x-llmproxy-feedback"
PATTERN_HEADER = "x-llmproxy-pattern"
EMPTY_INDEX = TemplateIndex()


def snapshot_templates() -> tuple[str, TemplateIndex]:
    from intelligence.models import Template

    rows = Template.objects.select_related("pattern").only(
        "id", "version", "tokens", "examples", "pattern__id", "pattern__namespace_id"
    )
    return "templates", TemplateIndex(
        TemplateIndex.compile(
            template_id=row.id,
            pattern_id=row.pattern_id,
            version=row.version,
            namespace_id=row.pattern.namespace_id,
            tokens=row.tokens,
            support=row.examples,
        )
        for row in rows
    )


def prompt_hash(messages: list[tuple[str, str]]) -> str:
    """Identifies the exact prompt (retries of the same prompt share it)."""
    digest = hashlib.sha1()
    for role, text in messages:
        digest.update(f"\x00{role}\x00".encode())
        digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def parse_feedback_header(value: str) -> list[dict[str, Any]]:
    """`<request_id>=<score>[, ...]`; a score is a number in [0, 1], `up` or `down`."""
    out = []
    for item in value.split(","):
        request_id, _, raw = item.strip().partition("=")
        score = score_value(raw.strip())
        if request_id and score is not None:
            out.append({"request_id": request_id.strip()[:32], "score": score})
    return out


def score_value(raw: Any) -> float | None:
    if isinstance(raw, str):
        lowered = raw.lower()
        if lowered in ("up", "+1", "thumbs_up", "good"):
            return 1.0
        if lowered in ("down", "-1", "thumbs_down", "bad"):
            return 0.0
        try:
            raw = float(raw)
        except ValueError:
            return None
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float) and 0.0 <= raw <= 1.0:
        return float(raw)
    return None


def find_pattern(call: Call, snapshot: ConfigSnapshot) -> Match | None:
    if call.endpoint not in ("chat", "messages"):
        return None
    messages = prompt_messages(call.body)
    if not messages:
        return None
    call.annotations["prompt_hash"] = prompt_hash(messages)
    index: TemplateIndex = snapshot.extra.get("templates", EMPTY_INDEX)
    return index.match(call.namespace_id, tokenize_messages(messages))


def annotate_pattern(call: Call, snapshot: ConfigSnapshot) -> None:
    """The `enhance` stage's pattern step; never raises, never waits."""
    try:
        found = find_pattern(call, snapshot)
    except Exception:  # a prompt we cannot read must never fail the request
        call.annotations["pattern_error"] = True
        found = None
    call.pattern = found
    if found is not None:
        call.annotations["pattern"] = {
            "id": found.pattern_id,
            "template_id": found.template_id,
            "version": found.version,
        }
        call.response_headers[PATTERN_HEADER] = f"{found.pattern_id}/v{found.version}"
    header = call.headers.get(FEEDBACK_HEADER, "")
    if header:
        given = parse_feedback_header(header)
        if given:
            call.annotations["feedback_given"] = given
