"""Where the proxy's memory goes: the ASGI app under uvicorn, in this process, with tracemalloc.

    python -m bench.memory_probe --port N --out DIR [--every 60] [--frames 1]

Used by `bench/soak.py --server probe`. It starts tracemalloc before Django is
imported, serves `llmproxy.asgi:application` with uvicorn (the same app daphne
serves), and every `--every` seconds writes to DIR/memory-probe.txt: the process's
RSS (anonymous and file-backed), what tracemalloc traces (memory Python allocated
and still holds), glibc's own view (`mallinfo2`: bytes in use and free inside
malloc's arenas) traced memory per package, and the 25 source lines whose allocations grew most since the
first snapshot (taken when the server is ready, before any request). RSS minus
traced memory is what Python's allocator does not see: native libraries (numpy,
OpenSSL, SQLite's page cache) and memory freed but kept by the allocators.
Tracing costs CPU (a few times slower per allocation): never for figures of speed.
"""

from __future__ import annotations

import argparse
import ctypes
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any


class MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
            "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def mallinfo() -> dict[str, int]:
    """glibc's counters: `arena` (bytes from sbrk/mmap'd heaps), `hblkhd` (large mmaps),
    `uordblks` (in use), `fordblks` (free but kept), in bytes ({} without glibc 2.33+)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = MallInfo2
    except (OSError, AttributeError):
        return {}
    info = libc.mallinfo2()
    return {name: int(getattr(info, name)) for name, _ in MallInfo2._fields_}


def status_kb(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def by_package(snapshot: Any) -> list[tuple[str, int]]:
    """Traced bytes per top-level package (site-packages/<name>, the project's apps, ...)."""
    sizes: dict[str, int] = {}
    for trace in snapshot.traces:
        # the most recent frame outside importlib: code loaded by an import counts for
        # the module that imported it
        frames = [f.filename for f in trace.traceback if not f.filename.startswith("<")]
        path = frames[-1] if frames else trace.traceback[-1].filename
        parts = path.split("/site-packages/", 1)
        if len(parts) == 2:
            name = parts[1].split("/", 1)[0]
        elif "/lib/python3" in path:
            name = "stdlib"
        else:
            name = Path(path).parent.name or path
        sizes[name] = sizes.get(name, 0) + trace.size
    return sorted(sizes.items(), key=lambda item: -item[1])


def report(out: Path, label: str, first: Any, previous: Any) -> Any:
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    traced, peak = tracemalloc.get_traced_memory()
    info = mallinfo()
    lines = [
        f"== {label}: RSS {status_kb('VmRSS') / 1024:.1f} MB (anon {status_kb('RssAnon') / 1024:.1f},"
        f" file {status_kb('RssFile') / 1024:.1f}), peak RSS {status_kb('VmHWM') / 1024:.1f} MB,"
        f" threads {status_kb('Threads')}",
        f"   traced by tracemalloc {traced / 2**20:.1f} MB (peak {peak / 2**20:.1f} MB)",
    ]
    if info:
        lines.append(
            f"   glibc malloc: heap {info['arena'] / 2**20:.1f} MB + mmapped {info['hblkhd'] / 2**20:.1f}"
            f" MB; in use {info['uordblks'] / 2**20:.1f} MB, free but kept {info['fordblks'] / 2**20:.1f} MB"
        )
    lines.append("   traced memory by package:")
    for package, size in by_package(snapshot)[:15]:
        lines.append(f"     {size / 2**20:7.1f} MB  {package}")
    if first is not None:
        for title, base in (("since ready", first), ("since the previous report", previous)):
            lines.append(f"   top growth {title}:")
            for stat in snapshot.compare_to(base, "lineno")[:25]:
                lines.append(f"     {stat}")
    with out.open("a") as f:
        f.write("\n".join(lines) + "\n\n")
    return snapshot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--every", type=float, default=60.0)
    parser.add_argument("--frames", type=int, default=8)
    args = parser.parse_args()
    out = Path(args.out) / "memory-probe.txt"
    tracemalloc.start(args.frames)
    import django

    django.setup()
    report(out, "after django.setup()", None, None)
    import uvicorn

    from llmproxy.asgi import application

    config = uvicorn.Config(
        application, host="127.0.0.1", port=args.port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)

    def reports() -> None:
        while not server.started:
            time.sleep(0.1)
        started = time.monotonic()
        first = report(out, "ready, before any request", None, None)
        previous = first
        while not server.should_exit:
            time.sleep(args.every)
            label = f"{time.monotonic() - started:.0f} s after ready"
            previous = report(out, label, first, previous)

    threading.Thread(target=reports, daemon=True).start()
    server.run()


if __name__ == "__main__":
    main()
