"""Analytics API and dashboard timing at scale (issue 8 bar 3, issue 9 item 3).

    createdb -h 127.0.0.1 -U postgres llmproxy_bench10m
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/llmproxy_bench10m
    flock /work/briefs/heavy.lock python manage.py seed_logs --rows 10000000 --days 30
    flock /work/briefs/heavy.lock python bench/analytics_api.py

Times every analytics API call over 30 days (and shorter ranges), as staff and as
a viewer of three namespaces, and the dashboard pages that read the database,
through Django's test client (session auth, routing, ninja, templates and
serialisation included). Then EXPLAIN ANALYZE of the queries the dashboard runs
on the raw log. `--seed N` seeds first (empty database only).
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
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from analytics.models import LEVELS  # noqa: E402
from dashboard.models import NamespaceMembership  # noqa: E402
from proxy.models import ApiKey, Namespace, RequestBody, RequestLog  # noqa: E402

API = "/api/analytics"


def calls(namespace: int, key: int) -> list[tuple[str, str]]:
    return [
        ("summary 30d", f"{API}/summary?range=30d"),
        ("timeseries 30d (by day, the default)", f"{API}/timeseries?range=30d"),
        ("timeseries 30d by hour", f"{API}/timeseries?range=30d&granularity=hour"),
        ("timeseries 30d by hour, one namespace", f"{API}/timeseries?range=30d&granularity=hour&namespace_id={namespace}"),
        ("timeseries 30d by hour, one model", f"{API}/timeseries?range=30d&granularity=hour&model=gpt-4o"),
        ("timeseries 30d by hour, one key", f"{API}/timeseries?range=30d&granularity=hour&api_key_id={key}"),
        ("timeseries 7d (by hour)", f"{API}/timeseries?range=7d"),
        ("timeseries 24h (by hour)", f"{API}/timeseries?range=24h"),
        ("timeseries 6h (by minute)", f"{API}/timeseries?range=6h"),
        ("breakdown 30d by namespace", f"{API}/breakdown?range=30d&by=namespace"),
        ("breakdown 30d by model", f"{API}/breakdown?range=30d&by=model"),
        ("breakdown 30d by provider", f"{API}/breakdown?range=30d&by=provider"),
        ("breakdown 30d by key", f"{API}/breakdown?range=30d&by=key"),
        ("breakdown 7d by model (by hour)", f"{API}/breakdown?range=7d&by=model"),
        ("insights 30d", f"{API}/insights?range=30d"),
        ("insights 7d", f"{API}/insights?range=7d"),
        ("timeseries.csv 30d by hour", f"{API}/timeseries.csv?range=30d&granularity=hour"),
    ]  # fmt: skip


def pages(request_id: str) -> list[tuple[str, str]]:
    return [
        ("page: overview", "/dashboard/"),
        ("page: live monitor", "/dashboard/live/"),
        ("page: request detail (with body)", f"/dashboard/requests/{request_id}/"),
        ("page: analytics", "/dashboard/analytics/"),
        ("page: patterns", "/dashboard/patterns/"),
        ("page: security", "/dashboard/security/"),
    ]


def timed(client: Client, url: str, repeat: int) -> tuple[float, float]:
    assert client.get(url).status_code == 200, url  # warm
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url
    times.sort()
    return statistics.median(times), times[round(0.95 * (len(times) - 1))]


def explain(label: str, sql: str, params: list[object]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = [row[0] for row in cursor.fetchall()]
    took = next((line for line in plan if line.startswith("Execution Time")), "")
    print(f"\n-- {label}: {took}")
    for line in plan[:8]:
        print("   ", line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0, help="Seed N rows first (empty log).")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    if args.seed:
        call_command("seed_logs", rows=args.seed, days=30)
    counts = {
        "logs": RequestLog.objects.count(),
        "bodies": RequestBody.objects.count(),
        **{
            f"{level}/{g}": table.objects.count()
            for level, (_, tables) in LEVELS.items()
            for g, table in tables.items()
        },
    }
    print("rows:", counts)
    print("load:", os.getloadavg())
    staff, _ = User.objects.get_or_create(username="bench-staff", defaults={"is_staff": True})
    viewer, _ = User.objects.get_or_create(username="bench-viewer")
    seeded = list(Namespace.objects.filter(name__startswith="seed-").order_by("id")[:3])
    for namespace in seeded:
        NamespaceMembership.objects.get_or_create(user=viewer, namespace=namespace)
    key = ApiKey.objects.filter(namespace=seeded[0]).order_by("id").first()
    assert key is not None
    body = RequestBody.objects.order_by("-log_id").values_list("log_id", flat=True).first()
    assert body is not None
    print("\n| Call | as | median | p95 |\n|---|---|---:|---:|")
    for who, user in (("staff", staff), ("viewer of 3 namespaces", viewer)):
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        for label, url in calls(seeded[0].id, key.id) + pages(str(body)):
            if who != "staff" and "request detail" in label:
                continue
            median, p95 = timed(client, url, args.repeat)
            print(f"| {label} | {who} | {median:.1f} ms | {p95:.1f} ms |", flush=True)
    print("\nload:", os.getloadavg())
    if connection.vendor != "postgresql":
        return
    table = RequestLog._meta.db_table
    ids = [n.id for n in seeded]
    explain("live monitor, staff: newest 100", f"SELECT * FROM {table} ORDER BY created_at DESC LIMIT 100", [])  # fmt: skip
    explain(
        "live monitor, viewer of 3 namespaces: newest 100",
        f"SELECT * FROM {table} WHERE namespace_id IN (%s, %s, %s) ORDER BY created_at DESC LIMIT 100",
        ids,
    )
    explain(
        "request detail: one row and its body",
        f"SELECT * FROM {table} l LEFT JOIN proxy_requestbody b ON b.log_id = l.id WHERE l.id = %s",
        [str(body)],
    )
    explain(
        "admin/log list: status 502, newest 100",
        f"SELECT * FROM {table} WHERE status_code = 502 ORDER BY created_at DESC LIMIT 100",
        [],
    )
    explain(
        "admin/log list: one model, newest 100",
        f"SELECT * FROM {table} WHERE requested_model = 'gpt-4o' ORDER BY created_at DESC LIMIT 100",
        [],
    )
    explain(
        "admin/log list: one key, newest 100",
        f"SELECT * FROM {table} WHERE api_key_id = %s ORDER BY created_at DESC LIMIT 100",
        [key.id],
    )


if __name__ == "__main__":
    main()
