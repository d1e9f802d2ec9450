"""Memory sampling for the soak (bench/soak.py): RSS of a process tree read from /proc.

Pure functions over /proc text and over the samples, so that they can be tested
without a server: `descendants`, `rss_kb`, `role_of`, `summarise`, `sparkline`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
BARS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Sample:
    seconds: float  # since the load started
    pid: int
    role: str  # daphne, qcluster, serve, ...
    rss_kb: int
    anon_kb: int = 0  # RssAnon: the heap and other private memory
    file_kb: int = 0  # RssFile: mapped files (shared libraries, SQLite's mmap)
    threads: int = 0


def parent_of(stat: str) -> int:
    """The parent pid from the text of /proc/PID/stat (the command may contain spaces)."""
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def descendants(root: int, proc: Path = PROC) -> list[int]:
    """`root` and every process below it, parents first."""
    children: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = parent_of((entry / "stat").read_text())
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
        children.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [root]
    while queue:
        pid = queue.pop(0)
        found.append(pid)
        queue.extend(sorted(children.get(pid, [])))
    return found


def rss_kb(status: str) -> int | None:
    """VmRSS from the text of /proc/PID/status (None for a zombie or a kernel thread)."""
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(match.group(1)) if match else None


def status_field(status: str, name: str) -> int:
    """A number from the text of /proc/PID/status (0 when absent)."""
    match = re.search(rf"^{name}:\s+(\d+)", status, re.M)
    return int(match.group(1)) if match else 0


def role_of(cmdline: str) -> str:
    """What a server process is, from its NUL-separated /proc/PID/cmdline."""
    args = [a for a in cmdline.split("\0") if a]
    text = " ".join(args)
    for role in ("daphne", "uvicorn", "qcluster"):
        if role in text:
            return role
    if "manage.py" in text and "serve" in args:
        return "serve"
    if "multiprocessing" in text or "spawn_main" in text:
        return "qcluster"  # django-q2's workers, when started with the spawn method
    return args[0].rsplit("/", 1)[-1] if args else "?"


def sample_tree(root: int, seconds: float, proc: Path = PROC) -> list[Sample]:
    samples = []
    for pid in descendants(root, proc):
        try:
            status = (proc / str(pid) / "status").read_text()
            cmdline = (proc / str(pid) / "cmdline").read_text()
        except OSError:
            continue
        rss = rss_kb(status)
        if rss is not None:
            anon, file = status_field(status, "RssAnon"), status_field(status, "RssFile")
            threads = status_field(status, "Threads")
            samples.append(Sample(seconds, pid, role_of(cmdline), rss, anon, file, threads))
    return samples


def totals_by_role(samples: Iterable[Sample]) -> dict[float, dict[str, int]]:
    """{seconds: {role: summed RSS kB}} over every process of that role at that moment."""
    table: dict[float, dict[str, int]] = {}
    for s in samples:
        row = table.setdefault(s.seconds, {})
        row[s.role] = row.get(s.role, 0) + s.rss_kb
    return table


@dataclass(frozen=True)
class Growth:
    start_kb: int  # the first sample at or after the warm-up
    end_kb: int  # the last sample
    max_kb: int  # the largest sample after the warm-up
    min_kb: int

    @property
    def percent(self) -> float:
        return 100.0 * (self.end_kb - self.start_kb) / self.start_kb if self.start_kb else 0.0

    @property
    def max_percent(self) -> float:
        return 100.0 * (self.max_kb - self.start_kb) / self.start_kb if self.start_kb else 0.0


def growth(series: Sequence[tuple[float, int]], warmup: float) -> Growth:
    """RSS growth of one (seconds, kB) series from the end of the warm-up to its last sample."""
    after = [kb for seconds, kb in series if seconds >= warmup]
    if not after:
        raise ValueError("no sample after the warm-up")
    return Growth(after[0], after[-1], max(after), min(after))


def per_minute(series: Sequence[tuple[float, int]]) -> list[tuple[int, int]]:
    """(minute, the last sample within it) for every minute that has a sample."""
    last: dict[int, int] = {}
    for seconds, kb in series:
        last[int(seconds // 60)] = kb
    return sorted(last.items())


def sparkline(values: Sequence[float]) -> str:
    """One bar per value, scaled from the smallest to the largest."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = high - low
    return "".join(
        BARS[0] if span == 0 else BARS[round((v - low) / span * (len(BARS) - 1))] for v in values
    )
