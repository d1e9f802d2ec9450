"""Where a proxy process's RSS sits, by kind of mapping, before and after bursts of wrk load.

    python bench/rss_breakdown.py [--malloc-arena-max N] [--seconds 10]

Starts the fake upstream and one daphne process (as bench/run.py does: a throwaway
SQLite DATA_DIR, LOG_BODIES=full), then, at each step (started; 5 s of non-streaming
load at concurrency 16; streaming at 64; non-streaming at 64; 10 s idle), prints the
process's RSS split by /proc/PID/smaps into: shared libraries and other files, the main
malloc arena ([heap], grown with brk), glibc's per-thread arenas (anonymous mappings
aligned to 64 MiB, the arena heap size), 1 MiB anonymous mappings (CPython's obmalloc
arenas) and other anonymous memory (large mallocs, numpy, thread stacks). Run with
and without `--malloc-arena-max 2` to see what the per-thread arenas cost.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.run import (  # noqa: E402
    PYTHON,
    Servers,
    chat_body,
    free_port,
    load_average,
    lua_post,
    manage,
    run_wrk,
    server_command,
    wait_for,
)

ARENA_ALIGN = 64 * 2**20  # glibc's HEAP_MAX_SIZE on 64-bit
OBMALLOC_ARENA = 2**20  # CPython 3.10+ obmalloc arena size
KINDS = ("files", "main arena", "thread arenas", "obmalloc arenas", "other anon")


def breakdown(smaps: str) -> dict[str, int]:
    """kB of RSS per kind of mapping, from the text of /proc/PID/smaps."""
    kinds = dict.fromkeys(KINDS, 0)
    header = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \d+\s*(.*)$")
    kind = "other anon"
    for line in smaps.splitlines():
        match = header.match(line)
        if match:
            start, end = int(match.group(1), 16), int(match.group(2), 16)
            name = match.group(4).strip()
            if name == "[heap]":
                kind = "main arena"
            elif name and not name.startswith("["):
                kind = "files"
            elif not name and start % ARENA_ALIGN == 0 and end - start < ARENA_ALIGN:
                kind = "thread arenas"
            elif not name and end - start == OBMALLOC_ARENA:
                kind = "obmalloc arenas"
            else:
                kind = "other anon"
        elif line.startswith("Rss:"):
            kinds[kind] += int(line.split()[1])
    return kinds


def show(label: str, pid: int) -> None:
    kinds = breakdown(Path(f"/proc/{pid}/smaps").read_text())
    status = Path(f"/proc/{pid}/status").read_text()
    threads = re.search(r"Threads:\s+(\d+)", status)
    total = sum(kinds.values())
    parts = ", ".join(f"{k} {v / 1024:.1f}" for k, v in kinds.items())
    print(
        f"{label:34} RSS {total / 1024:6.1f} MB: {parts}; threads "
        f"{threads.group(1) if threads else '?'}; load {load_average()}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--malloc-arena-max", default="")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--server", default="daphne")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="llmproxy-rss-"))
    upstream_port, port = free_port(), free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "llmproxy.settings",
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "LOG_BODIES": "full",
        "LOG_LEVEL": "WARNING",
        "OPENAI_API_KEY": "sk-bench-upstream",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
    }
    processes = Servers(env, data_dir)
    try:
        processes.start(
            "upstream", [PYTHON, "-m", "proxy.fake_upstream", "--port", str(upstream_port)]
        )
        manage(env, "migrate", "--no-input", "-v", "0")
        manage(env, "sync_providers")
        key = manage(env, "create_api_key", "--namespace", "b", "--name", "b").split()[-1]
        if args.malloc_arena_max:
            processes.env = env | {"MALLOC_ARENA_MAX": args.malloc_arena_max}
        server = processes.start(args.server, server_command(args.server, port))
        wait_for(f"http://127.0.0.1:{port}/healthz", timeout=120)
        print(f"{args.server}, MALLOC_ARENA_MAX={args.malloc_arena_max or 'unset'}")
        show("started", server.pid)
        bearer = {"Authorization": f"Bearer {key}"}
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        scripts = {
            s: lua_post(data_dir, str(s), chat_body("gpt-4o-mini", s), bearer) for s in (0, 1)
        }
        for stream, concurrency in ((0, 16), (1, 64), (0, 64), (1, 16)):
            cell, _ = run_wrk(url, scripts[stream], concurrency, args.seconds)
            show(
                f"after stream={bool(stream)} c={concurrency} ({cell.rps:.0f}/s)",
                server.pid,
            )
        time.sleep(10)
        show("after 10 s idle", server.pid)
        print(
            f"peak RSS (VmHWM) {Path(f'/proc/{server.pid}/status').read_text().split('VmHWM:')[1].split()[0]} kB"
        )
    finally:
        processes.stop_all()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
