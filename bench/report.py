"""bench/RESULTS.md: one section per run (the tables, the machine, the commands), newest first."""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

P50_BAR_MS = 2.0
RPS_BAR = 450.0
TRANSLATION_P50_BAR_MS = 1.0

FILE_HEADER = """# Benchmark results

Figures are measured, never asserted in tests. Newest first; every section names the
commit it measured. `make bench` (`bench/run.py`) adds its section at the top.
"""


def generic(command: str) -> str:
    """A command as it ran in every cell: concurrency, ports and the throwaway dir elided."""
    command = re.sub(r" -c\d+ ", " -cN ", command)
    command = re.sub(r"/tmp/llmproxy-bench-[^/]+/", "DATA_DIR/", command)
    command = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", command)
    return re.sub(r"(--port|-p) \d+", r"\1 PORT", command)


def listed(values: Iterable[int]) -> str:
    return ", ".join(str(v) for v in sorted(set(values))) or "not run"


def render_report(
    *,
    rows: list[tuple[str, bool, int, Any, Any]],
    translated: list[Any],
    claude_log: dict[str, int],
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
    lines = [
        f"## {started_at:%Y-%m-%d %H:%M}-{finished_at:%H:%M} UTC, commit {git_commit()} "
        "(written by `bench/run.py`)",
        "",
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
        "### Commands",
        "",
        "```",
        "make bench        # = python bench/run.py",
        "python bench/run.py " + shlex.join(sys.argv[1:]),
        f"wrk -cN: N = {listed(r[2] for r in rows)}; translation: {listed(r.concurrency for r in translated)}",
    ]
    lines += [f"{name}: {generic(command)}" for name, command in commands.items()]
    lines += ["```", ""]
    for name in servers:
        lines += [
            f"### Through {name}"
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
    lines += render_translation(translated, servers, claude_log)
    lines += ["### Against the bars (issue 2; issue 3 for translation)", ""]
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
    for name in servers:
        c1 = next((r for r in translated if r.server == name and r.concurrency == 1), None)
        if c1 is not None:
            worst = max(c1.added_p50_ms, c1.net_added_p50_ms)
            lines.append(
                f"- {name}: an OpenAI client on a Claude route, streaming, adds "
                f"{c1.added_p50_ms:+.2f} ms at p50 at concurrency 1 over the same-format path "
                f"({c1.net_added_p50_ms:+.2f} ms net of the upstreams' difference): "
                f"{'meets' if worst <= TRANSLATION_P50_BAR_MS else 'misses'} "
                f"≤ {TRANSLATION_P50_BAR_MS:g} ms (judged on the larger of the two)."
            )
    if args.note:
        lines += ["", args.note]
    lines.append("")
    return "\n".join(lines)


def render_translation(rows: list[Any], servers: list[str], log: dict[str, int]) -> list[str]:
    """The "Translation" table: Claude route versus same-format, streaming (bench/translation.py)."""
    if not rows:
        return []
    lines = [
        "### Translation: an OpenAI client on a Claude route, streaming",
        "",
        "The same OpenAI-format streaming chat body through the proxy, back to back: "
        "`model: gpt-4o-mini` (OpenAI-compatible provider, stream passed through) and "
        "`model: claude-route` (Anthropic provider: request and stream translated). "
        "**Added** = Claude route minus same-format. The upstream-alone columns are the fake "
        "upstream's own OpenAI and Anthropic streams, measured just before; **net** = added "
        "minus (Anthropic − OpenAI upstream-alone p50), since the two fake streams differ.",
        "",
        "| server | conc. | upstream alone p50, OpenAI / Anthropic (ms) | same-format p50 / p99 (ms) "
        "| Claude route p50 / p99 (ms) | **added p50 / p99 (ms)** | net added p50 (ms) "
        "| req/s same-format / Claude route | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in servers:
        for row in (r for r in rows if r.server == name):
            same, claude = row.same_format, row.translated
            lines.append(
                f"| {name} | {row.concurrency} | "
                f"{row.direct_openai.p50_ms:.2f} / {row.direct_anthropic.p50_ms:.2f} | "
                f"{same.p50_ms:.2f} / {same.p99_ms:.2f} | {claude.p50_ms:.2f} / {claude.p99_ms:.2f} | "
                f"**{row.added_p50_ms:+.2f} / {row.added_p99_ms:+.2f}** | {row.net_added_p50_ms:+.2f} | "
                f"{same.rps:.0f} / {claude.rps:.0f} | {same.errors + claude.errors} |"
            )
    lines += [
        "",
        "Request log, Claude route: "
        + ", ".join(f"{count} {what}" for what, count in log.items())
        + " (streams through the Anthropic provider `claude`; wrk's count excludes "
        "requests cut off at the end of a run).",
        "",
    ]
    return lines


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return (
        f"{os.cpu_count()} CPUs (nproc), {cpu}; Python {platform.python_version()}; "
        f"{platform.system()} {platform.release()}"
    )


def prepend_section(path: Path, section: str) -> None:
    """Put `section` above the newest one, keeping the file's header and older sections."""
    text = path.read_text() if path.exists() else FILE_HEADER
    first = re.search(r"^## ", text, re.M)
    head, older = (text[: first.start()], text[first.start() :]) if first else (text, "")
    path.write_text(head.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n\n" + older)


def git_commit() -> str:
    """The commit measured, `+dirty` when the worktree has uncommitted changes."""

    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return result.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
