"""Hot-path cost of the rules and experiments stage, in process: `python bench/rules_cost.py`.

Builds a realistic rule set (20 enabled rules: model wildcards, patterns, metadata,
three prompt regexes; 2 running experiments with a holdout), then times
`enhance_request` (the stage the pipeline runs: facts, sticky assignment, every
condition, the operations that match, the header) on fresh request bodies.
Prints p50/p90/p99 in microseconds. The bar is p50 <= 0.5 ms.
"""

from __future__ import annotations

import copy
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "llmproxy.settings")

import django

django.setup()

from intelligence.rules.engine import EnhancementSet, compile_experiment, compile_rule  # noqa: E402
from intelligence.services.enhance import enhance_request  # noqa: E402
from proxy.call import Call  # noqa: E402
from proxy.config import ConfigSnapshot, KeyInfo  # noqa: E402

RUNS = 20_000


def rule_set() -> EnhancementSet:
    rules = []
    for i in range(20):
        conditions: dict[str, object] = {"model": ["gpt-4o*", "claude-*"]}
        if i % 4 == 0:
            conditions["pattern"] = [i, i + 1]
        if i % 7 == 0:
            conditions["prompt_regex"] = rf"\b(invoice|receipt|ticket-{i})\b"
        if i % 5 == 0:
            conditions["metadata"] = {"team": "billing"}
        operations = [
            {"op": "system_append", "text": f"Rule {i}: answer precisely."},
            {"op": "clamp_param", "param": "max_tokens", "max": 2048},
        ]
        if i % 3 == 0:
            operations.append({"op": "add_stop", "sequences": [f"<END{i}>"]})
        rules.append(
            compile_rule(
                id=i, version=1, name=f"r{i}", conditions=conditions, operations=operations
            )
        )
    experiments = [
        compile_experiment(
            id=100 + e,
            conditions={"model": ["gpt-4o*"], "pattern": [e * 50]} if e else {},
            holdout_percent=5,
            arms=[
                {"id": 1, "name": "control", "weight": 1, "operations": []},
                {
                    "id": 2,
                    "name": "treatment",
                    "weight": 1,
                    "operations": [{"op": "set_param", "param": "temperature", "value": 0.2}],
                },
            ],
        )
        for e in range(2)
    ]
    return EnhancementSet(tuple(rules), tuple(experiments), {0: "coding"})


def main() -> None:
    snapshot = ConfigSnapshot(
        version=1,
        keys_by_prefix={},
        providers={},
        default_provider=None,
        routes={},
        extra={"enhancements": rule_set()},
    )
    key = KeyInfo(
        id=1,
        name="k",
        prefix="p",
        namespace_id=1,
        namespace="ns",
        state="active",
        allowed_models=(),
        expires_at=None,
    )
    body = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant for the billing team."},
            {
                "role": "user",
                "content": "Please read the attached invoice for ACME Corp dated 2026-11-02 and "
                "list every line item with its amount, then total them. " * 3,
            },
        ],
        "max_tokens": 4000,
        "metadata": {"team": "billing"},
    }
    samples = []
    applied = 0
    for i in range(RUNS):
        call = Call(api_format="openai", endpoint="chat", headers={})
        call.body = copy.deepcopy(body)
        call.key = key
        call.requested_model = "gpt-4o-mini"
        call.session_id = f"session-{i % 500}"
        started = time.perf_counter()
        enhance_request(call, snapshot)
        samples.append((time.perf_counter() - started) * 1e6)
        applied += len(call.annotations.get("enhancements", ()))
    samples.sort()
    p50 = statistics.median(samples)
    p90 = samples[int(len(samples) * 0.9)]
    p99 = samples[int(len(samples) * 0.99)]
    print(
        f"rules stage: p50 {p50:.1f} us, p90 {p90:.1f} us, p99 {p99:.1f} us "
        f"({applied / RUNS:.1f} enhancements applied per request, 20 rules, 2 experiments)"
    )
    print("bar: p50 <= 500 us:", "OK" if p50 <= 500 else "FAILED")


if __name__ == "__main__":
    main()
