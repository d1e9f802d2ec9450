"""Rules edited in admin change live requests; the header, the log and the opt-out show it."""

from __future__ import annotations

from typing import Any

from intelligence.models import Pattern, Rule, RuleRevision
from intelligence.services.rules import rule_save, rule_set_enabled
from tests.conftest import Gateway
from tests.intelligence.conftest import ask, learn_now
from tests.intelligence.decisions import decision_records

ACTOR = "admin:alice"


def make_rule(operations: list[dict[str, Any]], **fields: Any) -> Rule:
    fields.setdefault("enabled", True)
    return rule_save(rule=Rule(name="test rule", operations=operations, **fields), actor=ACTOR)


def sent(gateway: Gateway) -> dict[str, Any]:
    return gateway.fake.requests[-1]["json"]


def test_an_enabled_rule_changes_the_request_sent_upstream_and_says_so(gateway: Gateway) -> None:
    rule = make_rule(
        [
            {"op": "system_prepend", "text": "Be concise."},
            {"op": "set_param", "param": "temperature", "value": 0.2},
        ]
    )
    raw = ask(gateway, "Tell me about tides", temperature=1.0)
    body = sent(gateway)
    assert body["messages"][0] == {"role": "system", "content": "Be concise."}
    assert body["temperature"] == 0.2
    assert raw.headers["x-llmproxy-enhancements"] == f"rule:{rule.id}@v1"
    log = gateway.logs(1)[0]
    assert log.annotations["enhancements"] == [f"rule:{rule.id}@v1"]


def test_a_client_opts_out_with_the_enhance_header(gateway: Gateway) -> None:
    make_rule([{"op": "system_prepend", "text": "Be concise."}])
    raw = gateway.openai().chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hello"}],
        extra_headers={"x-llmproxy-enhance": "off"},
    )
    assert sent(gateway)["messages"] == [{"role": "user", "content": "hello"}]
    assert "x-llmproxy-enhancements" not in raw.headers
    assert gateway.logs(1)[0].annotations["enhance"] == "off"


def test_a_disabled_rule_changes_nothing(gateway: Gateway) -> None:
    make_rule([{"op": "system_prepend", "text": "Be concise."}], enabled=False)
    raw = ask(gateway, "hello")
    assert sent(gateway)["messages"] == [{"role": "user", "content": "hello"}]
    assert "x-llmproxy-enhancements" not in raw.headers


def test_rules_apply_in_order_and_only_where_their_conditions_hold(gateway: Gateway) -> None:
    first = make_rule([{"op": "system_append", "text": "one"}], order=1)
    second = make_rule([{"op": "system_append", "text": "two"}], order=2)
    make_rule([{"op": "system_append", "text": "never"}], conditions={"model": ["claude-*"]})
    make_rule(
        [{"op": "add_stop", "sequences": ["END"]}],
        conditions={"prompt_regex": r"\binvoices?\b"},
    )
    raw = ask(gateway, "Summarise this invoice", model="gpt-4o-mini")
    body = sent(gateway)
    assert body["messages"][0]["content"] == "one\n\ntwo"
    assert body["stop"] == ["END"]
    assert raw.headers["x-llmproxy-enhancements"].startswith(
        f"rule:{first.id}@v1, rule:{second.id}@v1, rule:"
    )


def test_a_rule_routes_to_another_model_and_the_log_keeps_the_original(gateway: Gateway) -> None:
    make_rule([{"op": "route_model", "model": "gpt-4o"}])
    ask(gateway, "hello", model="gpt-4o-mini")
    assert sent(gateway)["model"] == "gpt-4o"
    log = gateway.logs(1)[0]
    assert log.requested_model == "gpt-4o" and log.annotations["original_model"] == "gpt-4o-mini"


def test_a_template_rewrite_fills_in_the_patterns_variables(gateway: Gateway) -> None:
    for topic, n in (("autumn", 1), ("the sea", 2), ("city lights", 3)):
        ask(gateway, f"Write a haiku about {topic} for my {n} newsletter readers.")
    learn_now(gateway, 3)
    pattern = Pattern.objects.get()
    make_rule(
        [{"op": "template_rewrite", "text": "Compose one haiku on {var1} for {var2} readers."}],
        conditions={"pattern": [pattern.id]},
    )
    ask(gateway, "Write a haiku about old friends for my 44 newsletter readers.")
    assert (
        sent(gateway)["messages"][-1]["content"]
        == "Compose one haiku on old friends for 44 readers."
    )
    ask(gateway, "Something else entirely")
    assert sent(gateway)["messages"][-1]["content"] == "Something else entirely"


def test_editing_a_rule_makes_a_new_audited_version_live(gateway: Gateway) -> None:
    rule = make_rule([{"op": "system_prepend", "text": "v1 text"}])
    ask(gateway, "hello")
    rule.operations = [{"op": "system_prepend", "text": "v2 text"}]
    rule_save(rule=rule, actor=ACTOR)
    raw = ask(gateway, "hello")
    assert sent(gateway)["messages"][0]["content"] == "v2 text"
    assert raw.headers["x-llmproxy-enhancements"] == f"rule:{rule.id}@v2"
    assert list(RuleRevision.objects.filter(rule=rule).values_list("version", flat=True)) == [2, 1]
    rule_set_enabled(rule=rule, enabled=False, actor=ACTOR)
    actions = list(decision_records().order_by("id").values_list("actor", "action"))
    assert actions == [
        (ACTOR, "rule.create"),
        (ACTOR, "rule.change"),
        (ACTOR, "rule.disable"),
    ]
    ask(gateway, "hello")
    assert sent(gateway)["messages"] == [{"role": "user", "content": "hello"}]


def test_streaming_requests_are_enhanced_too(gateway: Gateway) -> None:
    rule = make_rule([{"op": "clamp_param", "param": "max_tokens", "max": 64}])
    with gateway.openai().chat.completions.with_streaming_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "stream please"}],
        max_tokens=4000,
        stream=True,
    ) as response:
        assert response.headers["x-llmproxy-enhancements"] == f"rule:{rule.id}@v1"
        chunks = list(response.iter_lines())
    assert chunks and sent(gateway)["max_tokens"] == 64


def test_rules_apply_to_anthropic_clients_on_either_upstream_kind(gateway: Gateway) -> None:
    import anthropic

    from proxy.runtime import get_runtime

    rule = make_rule(
        [
            {"op": "system_append", "text": "Answer in French."},
            {"op": "clamp_param", "param": "max_tokens", "max": 100},
        ]
    )
    client = anthropic.Anthropic(base_url=gateway.url, api_key=gateway.key, max_retries=0)

    def ask_claude() -> Any:
        return client.messages.with_raw_response.create(
            model="claude-sonnet-4-5",
            max_tokens=4000,
            system="Be brief.",
            messages=[{"role": "user", "content": "hello"}],
        )

    raw = ask_claude()  # translated to the OpenAI-compatible fake
    assert raw.headers["x-llmproxy-enhancements"] == f"rule:{rule.id}@v1"
    body = sent(gateway)
    assert body["messages"][0]["role"] == "system"
    assert "Answer in French." in body["messages"][0]["content"]
    assert body["max_tokens"] == 100

    gateway.provider.kind = "anthropic"  # now the same format, passed through
    gateway.provider.base_url = gateway.fake.anthropic_base_url
    gateway.provider.save()
    get_runtime().invalidate_config()
    raw = ask_claude()
    assert raw.headers["x-llmproxy-enhancements"] == f"rule:{rule.id}@v1"
    body = sent(gateway)
    system = body["system"] if isinstance(body["system"], str) else str(body["system"])
    assert "Be brief." in system and "Answer in French." in system
    assert body["max_tokens"] == 100
