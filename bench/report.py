"""bench/RESULTS.md: the table, the machine, the commands."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

P50_BAR_MS = 2.0
RPS_BAR = 450.0


def render_report(
    *,
    rows: list[tuple[str, bool, int, Any, Any]],
    servers: list[str],
    commands: dict[str, str],
    peak: dict[str, float],
    proxied: int,
    stored: int,
    args: argparse.Namespace,
    started_at: datetime,
    finished_at: datetime,
    load: tuple[str, str],
) -> str:
    from bench.run import machine

    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`bench/run.py`); figures are measured, never asserted in tests.",
        "",
        f"- **When**: {started_at:%Y-%m-%d %H:%M} to {finished_at:%H:%M} UTC",
        f"- **Machine**: {machine()}",
        f"- **Load average** (1, 5, 15 min) at start {load[0]}, at the end {load[1]}: "
        "on 2 CPUs, anything above 2 means other work competed with the bench.",
        "- **Setup**: one server process, SQLite (WAL) in a throwaway DATA_DIR, "
        "`LOG_BODIES=full` (every request stored with its request and response bodies), "
        "the fake upstream (`python -m proxy.fake_upstream`, aiohttp) in its own process, "
        "wrk with one thread on the same machine.",
        f"- **Each cell**: {args.duration:g} s of wrk directly against the fake upstream, then "
        f"{args.duration:g} s through each proxy server, back to back (so the ratio compares "
        "measurements taken moments apart).",
        f"- **Request log**: {stored} records stored for {proxied} requests completed through "
        "the proxy during the measurements (wrk's count excludes requests cut off by the end "
        "of each run, so stored ≥ completed means nothing was lost).",
        "",
        "## Commands",
        "",
        "```",
        "make bench        # = python bench/run.py",
    ]
    lines += [f"{name}: {command}" for name, command in commands.items()]
    lines += ["```", ""]
    for name in servers:
        lines += [
            f"## Through {name}"
            + (" (what `make run` starts)" if name == "daphne" else "")
            + f": peak RSS {peak.get(name, float('nan')):.0f} MB",
            "",
            "| stream | conc. | direct req/s | proxy req/s | ratio | direct p50 / p99 (ms) "
            "| proxy p50 / p99 (ms) | **added p50 / p99 (ms)** | errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for server, stream, concurrency, direct, through in rows:
            if server != name:
                continue
            lines.append(
                f"| {'yes' if stream else 'no'} | {concurrency} | {direct.rps:.0f} | "
                f"{through.rps:.0f} | {through.rps / direct.rps:.2f} | "
                f"{direct.p50_ms:.2f} / {direct.p99_ms:.2f} | "
                f"{through.p50_ms:.2f} / {through.p99_ms:.2f} | "
                f"**{through.p50_ms - direct.p50_ms:+.2f} / {through.p99_ms - direct.p99_ms:+.2f}** | "
                f"{through.errors} |"
            )
        lines.append("")
    lines += ["## Against the bar (issue 2)", ""]
    for name in servers:
        c1 = next((r for r in rows if r[0] == name and not r[1] and r[2] == 1), None)
        c16 = next((r for r in rows if r[0] == name and not r[1] and r[2] == 16), None)
        if c1 is None or c16 is None:
            continue
        added = c1[4].p50_ms - c1[3].p50_ms
        rps = c16[4].rps
        lines.append(
            f"- {name}: added p50 at concurrency 1 = {added:.2f} ms "
            f"({'meets' if added <= P50_BAR_MS else 'misses'} ≤ {P50_BAR_MS:g} ms); "
            f"non-streaming throughput at concurrency 16 = {rps:.0f} req/s "
            f"({'meets' if rps >= RPS_BAR else 'misses'} ≥ {RPS_BAR:g} req/s)."
        )
    if args.note:
        lines += ["", args.note]
    lines.append("")
    return "\n".join(lines)
