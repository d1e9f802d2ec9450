"""Hot-path cost of the pattern stage, in process: `python bench/patterns_cost.py`.

Learns templates from synthetic traffic (the project's generator), adds unrelated
templates so the index is not trivially small, then times `annotate_pattern` (the
stage the pipeline runs: prompt hash, tokens, masking, template match) on fresh
requests, matched and unmatched. Prints p50/p90/p99 in microseconds. The bar is
p50 <= 1 ms.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "llmproxy.settings")

import django

django.setup()

from intelligence.services.matching import annotate_pattern  # noqa: E402
from intelligence.services.mining import TemplateMiner  # noqa: E402
from intelligence.services.templates import TemplateIndex, tokenize_body  # noqa: E402
from intelligence.synthetic import WORDS, KnownTemplate, template_traffic  # noqa: E402
from proxy.call import Call  # noqa: E402
from proxy.config import ConfigSnapshot  # noqa: E402

NAMESPACE = 1


def build_index(extra_templates: int) -> TemplateIndex:
    miner = TemplateMiner()
    for _, body in template_traffic(2000, seed=1):
        miner.add(tokenize_body(body))
    rng = random.Random(3)
    filler = tuple(
        KnownTemplate(
            " ".join(rng.sample(WORDS, 5))
            + " {phrase} "
            + " ".join(rng.sample(WORDS, 4))
            + " {num}"
        )
        for _ in range(extra_templates)
    )
    for _, body in template_traffic(extra_templates * 3, seed=2, templates=filler):
        miner.add(tokenize_body(body))
    return TemplateIndex(
        TemplateIndex.compile(
            template_id=i,
            pattern_id=i,
            version=1,
            namespace_id=NAMESPACE,
            tokens=cluster.tokens,
            support=cluster.size,
        )
        for i, cluster in enumerate(miner.clusters, 1)
    )


class Key:
    namespace_id = NAMESPACE
    id = 1


def measure(index: TemplateIndex, bodies: list[dict[str, object]]) -> tuple[list[float], int]:
    snapshot = ConfigSnapshot(
        version=1, keys_by_prefix={}, providers={}, default_provider=None, routes={},
        extra={"templates": index},
    )  # fmt: skip
    costs = []
    matched = 0
    for body in bodies:
        call = Call(api_format="openai", endpoint="chat", headers={})
        call.body = body
        call.key = Key()  # type: ignore[assignment]
        started = time.perf_counter()
        annotate_pattern(call, snapshot)
        costs.append((time.perf_counter() - started) * 1e6)
        matched += "pattern" in call.annotations
    return costs, matched


def report(label: str, costs: list[float]) -> None:
    q = statistics.quantiles(costs, n=100)
    print(
        f"{label:<28} n={len(costs):5d}  p50={q[49]:7.1f} µs  p90={q[89]:7.1f} µs  p99={q[98]:7.1f} µs"
    )


def main() -> None:
    index = build_index(extra_templates=200)
    print(f"index: {index.size} templates")
    matched = [body for _, body in template_traffic(5000, seed=99)]
    unmatched = [
        {"messages": [{"role": "user", "content": f"Free-form question {i} about {w} and more"}]}
        for i, w in enumerate(["rivers", "taxes", "poems", "gardens", "stars"] * 400)
    ]
    measure(index, matched[:200])  # warm up
    costs, hits = measure(index, matched)
    report(f"template traffic ({hits} hit)", costs)
    free_costs, free_hits = measure(index, unmatched)
    report(f"free-form ({free_hits} hit)", free_costs)
    report("all", costs + free_costs)
    p50 = statistics.median(costs + free_costs)
    print(f"bar: p50 {p50 / 1000:.3f} ms <= 1 ms: {'met' if p50 <= 1000 else 'NOT met'}")


if __name__ == "__main__":
    main()
