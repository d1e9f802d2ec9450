"""The soak's section for bench/RESULTS.md (bench/soak.py writes it to its --out-dir)."""

from __future__ import annotations

import argparse
import statistics
from collections import Counter
from datetime import datetime
from pathlib import Path

from bench.soak_memory import Sample, growth, per_minute, sparkline, totals_by_role
from bench.soak_traffic import Tally

BAR_PERCENT = 10.0
ROLES = ("daphne", "qcluster", "serve")


def role_series(samples: list[Sample]) -> dict[str, list[tuple[float, int]]]:
    """{role: [(seconds, kB)]} with the processes of a role summed, plus `total`."""
    series: dict[str, list[tuple[float, int]]] = {}
    for seconds, row in sorted(totals_by_role(samples).items()):
        for role, kb in row.items():
            series.setdefault(role, []).append((seconds, kb))
        series.setdefault("total", []).append((seconds, sum(row.values())))
    return series


def process_series(samples: list[Sample]) -> dict[str, list[tuple[float, int]]]:
    """{"role pid N": [(seconds, kB)]}, one series per process."""
    series: dict[str, list[tuple[float, int]]] = {}
    for s in samples:
        series.setdefault(f"{s.role} pid {s.pid}", []).append((s.seconds, s.rss_kb))
    return series


def process_counts(samples: list[Sample]) -> dict[str, int]:
    """How many distinct pids each role had over the run (django-q2 recycles workers)."""
    pids: dict[str, set[int]] = {}
    for s in samples:
        pids.setdefault(s.role, set()).add(s.pid)
    return {role: len(found) for role, found in pids.items()}


def mb(kb: int) -> str:
    return f"{kb / 1024:.1f}"


def render_soak(
    *,
    samples: list[Sample],
    tally: Tally,
    stored: int,
    stored_running: int,
    args: argparse.Namespace,
    commit: str,
    load: dict[str, str],
    started_at: datetime,
    finished_at: datetime,
    commands: dict[str, str],
    out_dir: Path,
    orphans: list[int],
) -> str:
    series = role_series(samples)
    counts = process_counts(samples)
    roles = [r for r in (*ROLES, *sorted(series)) if r in series and r != "total"]
    roles = [*dict.fromkeys(roles), "total"]
    verdicts = {role: growth(series[role], args.warmup) for role in roles}
    variant = "PostgreSQL (`llmproxy_soak`) + Redis DB 13" if args.postgres else "SQLite (WAL)"
    latencies = sorted(tally.latencies)
    p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan")
    by_status: Counter[int] = Counter()
    for (_, status), n in tally.statuses.items():
        by_status[status] += n
    lines = [
        f"## {started_at:%Y-%m-%d %H:%M}-{finished_at:%H:%M} UTC, commit {commit}: "
        f"soak, {args.warmup / 60:g} min warm-up + {args.duration / 60:g} min (written by `bench/soak.py`)",
        "",
        f"- **Command**: `flock /work/briefs/heavy.lock python bench/soak.py --rate {args.rate:g} "
        f"--warmup {args.warmup:g} --duration {args.duration:g} --interval {args.interval:g}"
        + (" --postgres" if args.postgres else "")
        + (f" --malloc-arena-max {args.malloc_arena_max}" if args.malloc_arena_max else "")
        + "`",
        f"- **Load average** (1, 5, 15 min): at start {load.get('start')}, at the end of the "
        f"warm-up {load.get('warmup', '?')}, at the end {load.get('end')} (2 CPUs).",
        f"- **Setup**: `{commands['proxy']}` on a throwaway DATA_DIR, {variant}, "
        "LOG_BODIES=full; the fake upstream in its own process (`"
        + commands["upstream"]
        + "`, 50 ms before each answer, 3 ms between stream chunks); a global policy "
        "(injection and secrets blocked, PII redacted reversibly, input and output); "
        "3 namespaces × 2 keys; aiohttp, open loop.",
        f"- **Traffic**: {tally.sent} requests sent at {args.rate:g}/s "
        f"({tally.sent / (args.warmup + args.duration):.1f}/s achieved), {tally.answered} "
        f"answered, {tally.failed} without an answer, {tally.skipped} not sent (in-flight "
        f"limit); statuses {dict(sorted(by_status.items()))}; latency p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms.",
        f"- **Request log**: {stored} records for {tally.answered} requests answered "
        f"({stored_running} while the proxy was still running, 3 s after the last answer): "
        + ("every request recorded." if stored == tally.answered else "**counts differ**."),
        (
            f"- **Stopping**: `serve` exited, but {len(orphans)} q cluster processes were "
            "still running (it SIGKILLs a cluster that does not stop within 20 s, which "
            "leaves the cluster's own processes behind); the soak stopped them."
            if orphans
            else "- **Stopping**: `serve` stopped every process it started."
        ),
        f"- **Processes sampled** (VmRSS every {args.interval:g} s, all processes under "
        "`serve`): " + ", ".join(f"{role} {n}" for role, n in sorted(counts.items())) + ".",
        "",
        "| process | RSS after warm-up (MB) | end (MB) | min / max after warm-up (MB) "
        "| growth end vs after warm-up | max vs after warm-up |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    rows = [(role, verdicts[role]) for role in roles]
    for name, one in process_series(samples).items():  # the q cluster's processes, one by one
        if counts.get(name.split(" ")[0], 0) > 1 and one[-1][0] >= args.warmup:
            verdicts[name] = growth(one, args.warmup)
            rows.append((name, verdicts[name]))
    for name, g in rows:
        lines.append(
            f"| {name} | {mb(g.start_kb)} | {mb(g.end_kb)} | {mb(g.min_kb)} / {mb(g.max_kb)} "
            f"| **{g.percent:+.1f}%** | {g.max_percent:+.1f}% |"
        )
    minutes = {role: dict(per_minute(series[role])) for role in roles}
    all_minutes = sorted({m for table in minutes.values() for m in table})
    lines += [
        "",
        f"RSS at the end of each minute (MB; the warm-up is the first {args.warmup:g} s):",
        "",
        "| minute | " + " | ".join(roles) + " |",
        "|---:|" + "---:|" * len(roles),
    ]
    for minute in all_minutes:
        cells = [mb(minutes[r][minute]) if minute in minutes[r] else "" for r in roles]
        lines.append(f"| {minute + 1} | " + " | ".join(cells) + " |")
    lines += ["", "Every sample, warm-up included (`▁` lowest … `█` highest of each row):", ""]
    lines.append("```")
    for role in roles:
        values = [kb for _, kb in series[role]]
        lines.append(f"{role:9} {mb(min(values)):>6}-{mb(max(values)):<6} MB  {sparkline(values)}")
    lines.append("```")
    worst = max((g for name, g in verdicts.items() if name != "total"), key=lambda g: g.percent)
    met = all(g.percent <= BAR_PERCENT for g in verdicts.values())
    lines += [
        "",
        f"**Against the bar** (issue 9: RSS growth ≤ {BAR_PERCENT:g}% after warm-up): "
        + ("met" if met else "**not met**")
        + f"; the largest growth of a server process (or of the q cluster's processes summed) is {worst.percent:+.1f}%, of all "
        f"processes together {verdicts['total'].percent:+.1f}%. Raw samples: "
        f"`{out_dir.name}/samples.csv` (not committed).",
    ]
    return "\n".join(lines) + "\n"
