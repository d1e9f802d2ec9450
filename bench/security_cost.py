"""In-process cost of the security stage: the default policy (injection rules + classifier,
secrets, PII) over a ~4,000-token prompt, and over a short one.

    python bench/security_cost.py [--runs 200]

Prints p50/p90/p99/max in milliseconds. No network, no database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "llmproxy.settings")

import django

django.setup()

from security.engine import Segment, default_policy, evaluate  # noqa: E402

PARAGRAPH = (
    "The quarterly review covers revenue, hiring and the product roadmap. Sales in the "
    "northern region grew by 12 percent, driven by the new subscription tier, while churn "
    "stayed flat at 3.1 percent. The platform team shipped the billing migration two weeks "
    "late because of a dependency on the payments provider; the post-mortem lists three "
    "follow-ups, including better staging data and an earlier load test. Please summarise "
    "the risks for the board and suggest two questions they are likely to ask. "
)


def prompt_of(tokens: int) -> str:
    # ~0.75 words per token; PARAGRAPH is ~85 words.
    words_needed = int(tokens * 0.75)
    copies = max(1, words_needed // len(PARAGRAPH.split()))
    return PARAGRAPH * copies


def measure(text: str, runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds per evaluation (CPU time excludes waiting for a
    core that other processes hold, which dominates wall time on a loaded machine)."""
    policy = [default_policy()]
    segments = [Segment(0, "user", text)]
    evaluate(policy, segments)  # warm caches (model load, regex compile)
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.thread_time()
        evaluate(policy, segments)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    for label, tokens in (("short prompt (~50 tokens)", 50), ("long prompt (~4,000 tokens)", 4000)):
        text = prompt_of(tokens)
        wall, cpu = measure(text, args.runs)
        for kind, times in (("wall", sorted(wall)), ("cpu", sorted(cpu))):
            p50 = statistics.median(times)
            p90 = times[int(len(times) * 0.9) - 1]
            p99 = times[int(len(times) * 0.99) - 1]
            print(
                f"{label:<30} {kind:<4} chars={len(text):>6}  min={times[0]:6.2f} ms  "
                f"p50={p50:6.2f} ms  p90={p90:6.2f} ms  p99={p99:6.2f} ms  max={times[-1]:6.2f} ms"
            )
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (other processes share them)"
    )


if __name__ == "__main__":
    main()
