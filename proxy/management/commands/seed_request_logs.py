"""python manage.py seed_request_logs --rows 10000000 [--days 30] [--namespaces 20] [--keys 5]

Bulk-inserts realistic synthetic request logs for benchmarks and retention
tests: several namespaces with keys, a mix of models, providers, streams,
errors, latencies, tokens and costs, spread over the last `--days` days.
PostgreSQL uses COPY (hundreds of thousands of rows a second); other
databases use large `bulk_create` batches. Bodies are not seeded unless
`--bodies` is given (one small RequestBody per row, in the same way).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from proxy.models import ApiKey, RequestBody, RequestLog
from proxy.services.keys import api_key_create, namespace_get_or_create

# (requested model, provider, resolved model, USD per prompt token, per completion token)
MODELS = [
    ("gpt-4o-mini", "openai", "gpt-4o-mini", 0.15e-6, 0.6e-6),
    ("gpt-4o", "openai", "gpt-4o", 2.5e-6, 10e-6),
    ("claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5", 3e-6, 15e-6),
    ("claude-haiku-4-5", "anthropic", "claude-haiku-4-5", 1e-6, 5e-6),
    ("fast", "openrouter", "meta-llama/llama-3.1-8b-instruct", 0.05e-6, 0.08e-6),
    ("text-embedding-3-small", "openai", "text-embedding-3-small", 0.02e-6, 0.0),
]
# (status, error_type, weight)
OUTCOMES = [(200, "", 940), (429, "rate_limit", 25), (502, "upstream", 15), (400, "invalid_request", 12),
            (504, "timeout", 5), (499, "", 3)]  # fmt: skip
AGENTS = ["OpenAI/Python 1.99.0", "Anthropic/Python 0.70.0", "claude-cli/2.0 (external, cli)", "curl/8.5"]  # fmt: skip

COLUMNS = [
    "id", "created_at", "namespace_id", "api_key_id", "session_id", "endpoint", "api_format",
    "stream", "requested_model", "resolved_model", "provider", "route", "status_code",
    "error_type", "error_message", "finish_reason", "client_disconnected", "latency_ms",
    "upstream_ms", "ttft_ms", "overhead_ms", "prompt_tokens", "completion_tokens",
    "cached_tokens", "cache_write_tokens", "cost_usd", "attempts", "client_ip", "user_agent",
    "annotations",
]  # fmt: skip


class Synthesizer:
    def __init__(self, keys: list[tuple[int, int]], days: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.keys = keys
        self.now = timezone.now()
        self.span = days * 86400.0
        self.outcomes = [o[:2] for o in OUTCOMES]
        self.outcome_weights = [o[2] for o in OUTCOMES]

    def row(self) -> tuple[Any, ...]:
        rng = self.rng
        namespace_id, key_id = rng.choice(self.keys)
        model, provider, resolved, in_price, out_price = rng.choice(MODELS)
        endpoint = "embeddings" if model.startswith("text-embedding") else "chat"
        api_format = "anthropic" if provider == "anthropic" and rng.random() < 0.7 else "openai"
        if endpoint == "chat" and api_format == "anthropic":
            endpoint = "messages"
        (status, error_type) = rng.choices(self.outcomes, self.outcome_weights)[0]
        stream = endpoint != "embeddings" and rng.random() < 0.6
        ok = status < 400
        latency = rng.lognormvariate(6.5, 0.8)  # ~650 ms median
        prompt = int(rng.lognormvariate(6.5, 1.2)) + 1 if ok else None
        completion = (
            (0 if endpoint == "embeddings" else int(rng.lognormvariate(5, 1))) if ok else None
        )
        cost = (
            Decimal(f"{prompt * in_price + (completion or 0) * out_price:.8f}")
            if ok and prompt is not None
            else None
        )
        created = self.now - timedelta(seconds=rng.random() * self.span)
        return (
            f"{rng.getrandbits(128):032x}",
            created,
            namespace_id,
            key_id,
            f"session-{rng.randrange(50_000)}" if rng.random() < 0.5 else "",
            endpoint,
            api_format,
            stream,
            model,
            resolved,
            provider,
            model if model == "fast" else "",
            status,
            error_type,
            f"Upstream {provider} answered {status}." if error_type else "",
            ("stop" if ok else ("client_disconnected" if status == 499 else "error")) if endpoint != "embeddings" else "",
            status == 499,
            round(latency, 3),
            round(latency * 0.97, 3) if status != 400 else None,
            round(latency * rng.uniform(0.05, 0.3), 3) if stream and ok else None,
            round(rng.uniform(0.3, 2.5), 3),
            prompt,
            completion,
            int(prompt * 0.3) if ok and prompt and rng.random() < 0.2 else 0 if ok else None,
            0 if ok else None,
            cost,
            json.dumps([{"target": f"{provider}/{resolved}", "status": status, "ms": round(latency * 0.97, 3)}]),
            f"10.0.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            rng.choice(AGENTS),
            "{}",
        )  # fmt: skip

    def rows(self, count: int) -> Iterator[tuple[Any, ...]]:
        for _ in range(count):
            yield self.row()


def seed_keys(namespaces: int, keys_per_namespace: int) -> list[tuple[int, int]]:
    keys: list[tuple[int, int]] = []
    for n in range(namespaces):
        namespace = namespace_get_or_create(name=f"seed-{n:02d}")
        existing = list(ApiKey.objects.filter(namespace=namespace).values_list("id", flat=True))
        while len(existing) < keys_per_namespace:
            issued = api_key_create(namespace=namespace, name=f"seed-key-{len(existing)}")
            existing.append(issued.key.id)
        keys.extend((namespace.id, key_id) for key_id in existing[:keys_per_namespace])
    return keys


def copy_rows(rows: Iterator[tuple[Any, ...]], bodies: bool) -> None:
    """PostgreSQL: one COPY for the logs (and one for bodies)."""
    table = RequestLog._meta.db_table
    ids: list[str] = []
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's cursor
        with raw.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                if bodies:
                    ids.append(row[0])
        if bodies:
            body_table = RequestBody._meta.db_table
            sql = f"COPY {body_table} (log_id, request, response, response_text, truncated) FROM STDIN"
            with raw.copy(sql) as copy:
                for log_id in ids:
                    copy.write_row((log_id, '{"messages": []}', "null", "synthetic answer", False))


def bulk_rows(rows: Iterator[tuple[Any, ...]], bodies: bool, batch: int = 5000) -> None:
    """Other databases: bulk_create in large batches."""
    pending: list[RequestLog] = []

    def flush() -> None:
        RequestLog.objects.bulk_create(pending)
        if bodies:
            RequestBody.objects.bulk_create(
                [RequestBody(log_id=r.id, request={"messages": []}, response_text="synthetic answer") for r in pending]
            )  # fmt: skip
        pending.clear()

    for row in rows:
        values = dict(zip(COLUMNS, row, strict=True))
        values["attempts"] = json.loads(values["attempts"])
        values["annotations"] = {}
        pending.append(RequestLog(**values))
        if len(pending) >= batch:
            flush()
    if pending:
        flush()


class Command(BaseCommand):
    help = "Bulk-insert realistic synthetic request logs (for benchmarks and retention tests)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, required=True)
        parser.add_argument("--days", type=int, default=30, help="Spread over the last N days.")
        parser.add_argument("--namespaces", type=int, default=20)
        parser.add_argument("--keys", type=int, default=5, help="Keys per namespace.")
        parser.add_argument("--chunk", type=int, default=200_000, help="Rows per transaction.")
        parser.add_argument("--bodies", action="store_true", help="Also seed small bodies.")
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args: object, **options: Any) -> None:
        keys = seed_keys(options["namespaces"], options["keys"])
        synth = Synthesizer(keys, options["days"], options["seed"])
        write = copy_rows if connection.vendor == "postgresql" else bulk_rows
        total, chunk = options["rows"], options["chunk"]
        started = time.perf_counter()
        done = 0
        while done < total:
            size = min(chunk, total - done)
            with transaction.atomic():
                write(synth.rows(size), options["bodies"])
            done += size
            rate = done / (time.perf_counter() - started)
            self.stdout.write(f"{done} rows ({rate:,.0f} rows/s)")
        if connection.vendor == "postgresql":  # fresh statistics, or the planner guesses
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {RequestLog._meta.db_table}")
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"Seeded {total} request logs in {seconds:.1f} s ({total / max(seconds, 1e-9):,.0f} rows/s)"
            f" across {options['namespaces']} namespaces."
        )
