"""Pruning a large request log while the log writer keeps writing (issue 9).

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/llmproxy_bench10m
    flock /work/briefs/heavy.lock python bench/data_growth.py --older-than 27d

Runs `prune_logs --older-than AGE` on the seeded log while a thread does what the
proxy's log writer does (`proxy.recorder.insert_ignoring_conflicts` in a
transaction: 50 records every 100 ms, on its own connection), and reports how
long the prune took and the writer's batch latency before and during it.
DESTRUCTIVE: it deletes the old rows it measures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import uuid
from io import StringIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "llmproxy.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from proxy.models import ApiKey, RequestLog  # noqa: E402
from proxy.recorder import insert_ignoring_conflicts  # noqa: E402


class Writer(threading.Thread):
    """50 records every 100 ms; each batch's latency, tagged with the phase it ran in."""

    def __init__(self, key: ApiKey) -> None:
        super().__init__(daemon=True)
        self.key = key
        self.phase = "before"
        self.latencies: dict[str, list[float]] = {"before": [], "during": []}
        self.stop = threading.Event()

    def batch(self) -> list[dict[str, object]]:
        now = timezone.now()
        return [
            {"id": uuid.uuid4().hex, "created_at": now, "namespace_id": self.key.namespace_id,
             "api_key_id": self.key.id, "session_id": "", "endpoint": "chat",
             "api_format": "openai", "stream": False, "requested_model": "gpt-4o",
             "resolved_model": "gpt-4o", "provider": "openai", "route": "", "status_code": 200,
             "error_type": "", "error_message": "", "finish_reason": "stop",
             "client_disconnected": False, "latency_ms": 500.0, "attempts": [],
             "user_agent": "", "annotations": {}}
            for _ in range(50)
        ]  # fmt: skip

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                rows = self.batch()
                started = time.perf_counter()
                with transaction.atomic():
                    insert_ignoring_conflicts(RequestLog, rows)
                self.latencies[self.phase].append((time.perf_counter() - started) * 1000)
                time.sleep(0.1)
        finally:
            connection.close()


def describe(values: list[float]) -> str:
    if not values:
        return "no batches"
    values = sorted(values)
    p99 = values[round(0.99 * (len(values) - 1))]
    return (
        f"{len(values)} batches: median {statistics.median(values):.1f} ms, "
        f"p99 {p99:.1f} ms, max {values[-1]:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--older-than", default="27d")
    parser.add_argument("--batch-size", type=int, default=None)
    args = parser.parse_args()
    key = ApiKey.objects.filter(namespace__name__startswith="seed-").order_by("id").first()
    assert key is not None, "seed first: python manage.py seed_logs --rows N"
    print("rows before:", RequestLog.objects.count(), "load:", os.getloadavg())
    writer = Writer(key)
    writer.start()
    time.sleep(10)
    writer.phase = "during"
    out = StringIO()
    started = time.perf_counter()
    extra = ["--batch-size", str(args.batch_size)] if args.batch_size else []
    call_command("prune_logs", "--older-than", args.older_than, *extra, stdout=out)
    seconds = time.perf_counter() - started
    writer.stop.set()
    writer.join()
    print(out.getvalue().strip(), f"(timed: {seconds:.1f} s)")
    print("writer before the prune:", describe(writer.latencies["before"]))
    print("writer during the prune:", describe(writer.latencies["during"]))
    print("rows after:", RequestLog.objects.count(), "load:", os.getloadavg())


if __name__ == "__main__":
    main()
