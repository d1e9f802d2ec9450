"""Rule conditions and operations, in both API formats, without a server."""

from __future__ import annotations

from typing import Any

import pytest

from intelligence.rules.conditions import RequestFacts, RuleError, compile_conditions
from intelligence.rules.dialects import AnthropicDialect, OpenAIDialect
from intelligence.rules.engine import (
    CompiledArm,
    EnhancementSet,
    compile_experiment,
    compile_rule,
    pick_arm,
    unit_position,
)
from intelligence.rules.operations import OpContext, compile_operations


def apply(
    ops: list[dict[str, Any]], body: dict[str, Any], dialect: Any = OpenAIDialect, **ctx: Any
) -> dict[str, Any]:
    context = OpContext(dialect=dialect, **ctx)
    for operation in compile_operations(ops):
        operation.apply(body, context)
    return body


def facts(**kwargs: Any) -> RequestFacts:
    values: dict[str, Any] = dict(
        namespace_id=1,
        key_id=2,
        model="gpt-4o-mini",
        endpoint="chat",
        pattern_id=None,
        category=None,
        prompt_text="",
        metadata={},
    )
    values.update(kwargs)
    return RequestFacts(**values)


def test_system_operations_edit_the_openai_system_messages() -> None:
    body = {"messages": [{"role": "system", "content": "Base."}, {"role": "user", "content": "hi"}]}
    apply(
        [{"op": "system_prepend", "text": "First."}, {"op": "system_append", "text": "Last."}], body
    )
    assert body["messages"] == [
        {"role": "system", "content": "First.\n\nBase.\n\nLast."},
        {"role": "user", "content": "hi"},
    ]
    apply([{"op": "system_replace", "text": "New."}], body)
    assert body["messages"][0] == {"role": "system", "content": "New."}


def test_system_operations_edit_the_anthropic_system_field() -> None:
    body: dict[str, Any] = {"system": "Base.", "messages": [{"role": "user", "content": "hi"}]}
    apply([{"op": "system_prepend", "text": "First."}], body, AnthropicDialect)
    assert body["system"] == "First.\n\nBase."
    blocks: dict[str, Any] = {"system": [{"type": "text", "text": "Block."}], "messages": []}
    apply([{"op": "system_append", "text": "More."}], blocks, AnthropicDialect)
    assert blocks["system"] == "Block.\n\nMore."
    assert blocks["messages"] == []


def test_stop_sequences_go_where_each_format_keeps_them() -> None:
    openai_body = apply([{"op": "add_stop", "sequences": ["END", "STOP"]}], {"stop": "X"})
    assert openai_body["stop"] == ["X", "END", "STOP"]
    full = apply([{"op": "add_stop", "sequences": ["E"]}], {"stop": ["a", "b", "c", "d"]})
    assert full["stop"] == ["a", "b", "c", "d"]  # OpenAI allows four
    anthropic_body = apply([{"op": "add_stop", "sequences": ["END"]}], {}, AnthropicDialect)
    assert anthropic_body == {"stop_sequences": ["END"]}


def test_parameters_are_set_and_clamped() -> None:
    body = apply(
        [
            {"op": "set_param", "param": "temperature", "value": 0.1},
            {"op": "clamp_param", "param": "max_tokens", "min": 16, "max": 512},
            {"op": "clamp_param", "param": "top_p", "min": 0.5},
        ],
        {"temperature": 1.5, "max_tokens": 9000, "top_p": 0.1},
    )
    assert body == {"temperature": 0.1, "max_tokens": 512, "top_p": 0.5}
    assert apply([{"op": "clamp_param", "param": "max_tokens", "max": 100}], {}) == {
        "max_tokens": 100
    }


def test_a_parameter_the_format_does_not_know_is_left_alone() -> None:
    ops = [
        {"op": "set_param", "param": "presence_penalty", "value": 0.5},
        {"op": "set_param", "param": "top_k", "value": 40},
        {"op": "clamp_param", "param": "max_tokens", "max": 1024},
    ]
    assert apply(ops, {"max_tokens": 4096}, AnthropicDialect) == {"max_tokens": 1024, "top_k": 40}
    assert apply(ops, {}, OpenAIDialect) == {"presence_penalty": 0.5, "max_tokens": 1024}


def test_few_shot_turns_go_after_the_system_prompt() -> None:
    examples = [{"user": "2+2?", "assistant": "4"}]
    body = apply(
        [{"op": "few_shot", "examples": examples}],
        {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "3+3?"}]},
    )
    assert [m["content"] for m in body["messages"]] == ["S", "2+2?", "4", "3+3?"]
    anthropic = apply(
        [{"op": "few_shot", "examples": examples}],
        {"system": "S", "messages": [{"role": "user", "content": "3+3?"}]},
        AnthropicDialect,
    )
    assert [m["content"] for m in anthropic["messages"]] == ["2+2?", "4", "3+3?"]


def test_a_template_rewrite_needs_the_variables_it_names() -> None:
    op = [{"op": "template_rewrite", "text": "About {var1} and {var2}."}]
    body = {"messages": [{"role": "user", "content": "old"}]}
    apply(op, body, variables=lambda: ["x"])
    assert body["messages"][0]["content"] == "old"
    apply(op, body, variables=lambda: ["x", "y"])
    assert body["messages"][0]["content"] == "About x and y."


@pytest.mark.parametrize(
    ("operations", "message"),
    [
        ([], "non-empty"),
        ([{"op": "explode"}], "`op` must be one of"),
        ([{"op": "set_param", "param": "api_key", "value": 1}], "`param` must be one of"),
        ([{"op": "clamp_param", "param": "max_tokens", "min": 5, "max": 1}], "above"),
        ([{"op": "system_append", "text": "  "}], "non-empty `text`"),
        ([{"op": "few_shot", "examples": [{"user": "x"}]}], "`user` and `assistant`"),
        ([{"op": "add_stop", "sequences": []}], "sequences"),
    ],
)
def test_invalid_operations_are_refused_with_a_reason(
    operations: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(RuleError, match=message):
        compile_operations(operations)


def test_conditions_all_have_to_hold() -> None:
    conditions = compile_conditions(
        {
            "model": ["gpt-4o*"],
            "prompt_regex": "invoice",
            "metadata": {"team": "billing"},
            "category": ["extraction"],
        }
    )
    good = facts(prompt_text="An INVOICE", metadata={"team": "billing"}, category="extraction")
    assert conditions.matches(good)
    assert not conditions.matches(
        facts(prompt_text="An invoice", metadata={"team": "x"}, category="extraction")
    )
    assert not conditions.matches(
        facts(
            model="claude-3",
            prompt_text="invoice",
            metadata={"team": "billing"},
            category="extraction",
        )
    )
    assert compile_conditions({}).matches(facts())
    with pytest.raises(RuleError, match="unknown condition"):
        compile_conditions({"colour": "red"})
    with pytest.raises(RuleError, match="regular expression"):
        compile_conditions({"prompt_regex": "("})


def test_assignment_is_sticky_and_follows_the_weights() -> None:
    arms = (CompiledArm(1, "control", 1, ()), CompiledArm(2, "treatment", 3, ()))
    assert unit_position(7, "session-1") == unit_position(7, "session-1")
    assert unit_position(7, "session-1") != unit_position(8, "session-1")
    picks = [pick_arm(unit_position(7, f"s{i}"), 0.1, arms) for i in range(20_000)]
    held = sum(p is None for p in picks) / len(picks)
    treated = sum(p is not None and p.name == "treatment" for p in picks) / len(picks)
    assert abs(held - 0.1) < 0.01
    assert abs(treated - 0.9 * 0.75) < 0.015


def test_held_out_units_get_neither_the_arm_nor_any_rule() -> None:
    rule = compile_rule(
        id=1, version=1, name="r", conditions={}, operations=[{"op": "system_append", "text": "R"}]
    )
    experiment = compile_experiment(
        id=5,
        conditions={},
        holdout_percent=50,
        arms=[
            {"id": 1, "name": "control", "weight": 1, "operations": []},
            {
                "id": 2,
                "name": "treatment",
                "weight": 1,
                "operations": [{"op": "set_param", "param": "seed", "value": 1}],
            },
        ],
    )
    rules = EnhancementSet(rules=(rule,), experiments=(experiment,))
    seen = {}
    for i in range(200):
        body: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}
        outcome = rules.apply(body, facts(), OpenAIDialect, f"u{i}")
        assert outcome.experiment is not None
        arm = outcome.experiment["arm"]
        seen[arm] = seen.get(arm, 0) + 1
        if arm == "holdout":
            assert body == {"messages": [{"role": "user", "content": "hi"}]}
        else:
            assert body["messages"][0]["content"] == "R"
            assert ("seed" in body) == (arm == "treatment")
    assert set(seen) == {"holdout", "control", "treatment"}
