"""Analytics API timing over seeded rollups (PostgreSQL or SQLite).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/llmproxy_dash_bench \
        python bench/analytics_api.py --rows 1000000 --namespaces 8 --keys 4

Seeds the logs and rollups once (skipped with --no-seed), then times each API
call through Django's test client (session auth, routing, serialisation included).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "llmproxy.settings")

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from analytics.models import DayRollup, HourRollup, MinuteRollup  # noqa: E402
from proxy.models import RequestLog  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--namespaces", type=int, default=8)
    parser.add_argument("--keys", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-seed", action="store_true")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    if not args.no_seed:
        call_command(
            "seed_logs", rows=args.rows, days=30, namespaces=args.namespaces, keys=args.keys
        )
    print(
        f"logs={RequestLog.objects.count()} minute_rollups={MinuteRollup.objects.count()} "
        f"hour_rollups={HourRollup.objects.count()} day_rollups={DayRollup.objects.count()}"
    )
    user, _ = User.objects.get_or_create(username="bench-staff", defaults={"is_staff": True})
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    calls = [
        ("summary 30d", "/api/analytics/summary?range=30d"),
        ("timeseries 30d (by day)", "/api/analytics/timeseries?range=30d"),
        ("timeseries 30d by hour", "/api/analytics/timeseries?range=30d&granularity=hour"),
        ("timeseries 7d (by hour)", "/api/analytics/timeseries?range=7d"),
        ("timeseries 24h (by hour)", "/api/analytics/timeseries?range=24h"),
        ("breakdown 30d by model", "/api/analytics/breakdown?range=30d&by=model"),
        ("breakdown 30d by key", "/api/analytics/breakdown?range=30d&by=key"),
        ("insights 7d", "/api/analytics/insights?range=7d"),
    ]
    for label, url in calls:
        assert client.get(url).status_code == 200  # warm
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        times.sort()
        p95 = times[int(0.95 * (len(times) - 1))]
        print(f"{label:28s} median {statistics.median(times):7.1f} ms   p95 {p95:7.1f} ms")


if __name__ == "__main__":
    main()
