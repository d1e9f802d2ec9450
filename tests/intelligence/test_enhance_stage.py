"""The enhance stage itself, on a `Call`: format dialects, opt-out, and failure isolation.

The Anthropic Messages endpoint is not on this branch yet; this drives the stage with
an Anthropic-format call directly, as the pipeline will once it is.
"""

from __future__ import annotations

from typing import Any

from intelligence.rules.engine import EnhancementSet, compile_rule
from intelligence.services.enhance import enhance_request
from proxy.call import Call
from proxy.config import ConfigSnapshot, KeyInfo

KEY = KeyInfo(
    id=3,
    name="k",
    prefix="p",
    namespace_id=1,
    namespace="ns",
    state="active",
    allowed_models=(),
    expires_at=None,
)


def snapshot(*operations: dict[str, Any], conditions: Any = None) -> ConfigSnapshot:
    rule = compile_rule(
        id=9, version=4, name="r", conditions=conditions or {}, operations=list(operations)
    )
    return ConfigSnapshot(
        version=1,
        keys_by_prefix={},
        providers={},
        default_provider=None,
        routes={},
        extra={"enhancements": EnhancementSet(rules=(rule,))},
    )


def call_for(body: dict[str, Any], api_format: str = "openai", **headers: str) -> Call:
    endpoint = "messages" if api_format == "anthropic" else "chat"
    call = Call(api_format=api_format, endpoint=endpoint, headers=headers)
    call.body, call.key, call.requested_model = body, KEY, body["model"]
    return call


def test_an_anthropic_request_gets_its_system_field_and_stop_sequences_edited() -> None:
    call = call_for(
        {
            "model": "claude-sonnet-4-5",
            "system": "You are terse.",
            "max_tokens": 4096,
            "messages": [{"role": "user", "content": "hi"}],
        },
        api_format="anthropic",
    )
    enhance_request(
        call,
        snapshot(
            {"op": "system_append", "text": "Cite sources."},
            {"op": "add_stop", "sequences": ["</answer>"]},
            {"op": "clamp_param", "param": "max_tokens", "max": 1024},
            {"op": "set_param", "param": "presence_penalty", "value": 1},
            conditions={"endpoint": ["messages"], "model": ["claude-*"]},
        ),
    )
    assert call.body == {
        "model": "claude-sonnet-4-5",
        "system": "You are terse.\n\nCite sources.",
        "max_tokens": 1024,
        "stop_sequences": ["</answer>"],
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert call.response_headers["x-llmproxy-enhancements"] == "rule:9@v4"


def test_the_opt_out_header_is_case_insensitive_in_its_value() -> None:
    call = call_for(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        **{"x-llmproxy-enhance": " OFF "},
    )
    enhance_request(call, snapshot({"op": "system_append", "text": "x"}))
    assert (
        call.annotations == {"enhance": "off"}
        and "x-llmproxy-enhancements" not in call.response_headers
    )


def test_a_failing_rule_never_fails_the_request(monkeypatch: Any) -> None:
    from intelligence.rules import operations

    def explode(self: Any, body: Any, ctx: Any) -> bool:
        raise RuntimeError("boom")

    monkeypatch.setattr(operations.SystemAppend, "apply", explode)
    call = call_for({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    enhance_request(call, snapshot({"op": "system_append", "text": "x"}))
    assert call.annotations["enhance_error"] is True
    assert "x-llmproxy-enhancements" not in call.response_headers


def test_embeddings_are_never_enhanced() -> None:
    call = Call(api_format="openai", endpoint="embeddings", headers={})
    call.body, call.key = {"model": "e", "input": "x"}, KEY
    enhance_request(call, snapshot({"op": "set_param", "param": "seed", "value": 1}))
    assert call.body == {"model": "e", "input": "x"} and not call.annotations
