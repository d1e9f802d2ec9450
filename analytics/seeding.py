"""Synthetic request logs for benchmarks, demos and tests (`manage.py seed_logs`).

Realistic rows: namespaces with keys, a mix of models and providers (each with its
own prices, latency and share of answers cut at max_tokens), streams, an outcome
mix of successes and errors, sessions, tokens and costs, spread over `days` in
time order (as the log writer stores them, so the table's physical order follows
`created_at` as it does in production). A share of the rows get a body in
`RequestBody`, the separate table the app keeps bodies in.

Deterministic for a given seed. PostgreSQL loads with COPY (psycopg 3's
`cursor.copy()`); other databases with `bulk_create` in batches.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from proxy.models import RequestBody, RequestLog


@dataclass(frozen=True)
class ModelProfile:
    requested: str
    provider: str
    resolved: str
    usd_per_prompt_token: float
    usd_per_completion_token: float
    latency_ms: float  # median
    truncation: float  # share of answers cut at max_tokens


MODELS = (
    ModelProfile("gpt-4o-mini", "openai", "gpt-4o-mini", 0.15e-6, 0.6e-6, 450, 0.25),
    ModelProfile("gpt-4o", "openai", "gpt-4o", 2.5e-6, 10e-6, 900, 0.02),
    ModelProfile("claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5", 3e-6, 15e-6, 1100, 0.01),
    ModelProfile("claude-haiku-4-5", "anthropic", "claude-haiku-4-5", 1e-6, 5e-6, 500, 0.03),
    ModelProfile("fast", "openrouter", "meta-llama/llama-3.1-8b-instruct", 0.05e-6, 0.08e-6, 300, 0.05),
    ModelProfile("text-embedding-3-small", "openai", "text-embedding-3-small", 0.02e-6, 0.0, 120, 0.0),
)  # fmt: skip
# (status, error_type, weight)
OUTCOMES = ((200, "", 940), (429, "rate_limit", 25), (502, "upstream", 15),
            (400, "invalid_request", 12), (504, "timeout", 5), (499, "", 3))  # fmt: skip
AGENTS = ("OpenAI/Python 1.99.0", "Anthropic/Python 0.70.0", "claude-cli/2.0 (external, cli)", "curl/8.5")  # fmt: skip
QUESTIONS = ("Where is my order {n}?", "Summarise ticket {n} in two sentences.",
             "Translate note {n} into French.", "Classify the sentiment of review {n}.")  # fmt: skip

COLUMNS = (
    "id", "created_at", "namespace_id", "api_key_id", "session_id", "endpoint", "api_format",
    "stream", "requested_model", "resolved_model", "provider", "route", "status_code",
    "error_type", "error_message", "finish_reason", "client_disconnected", "latency_ms",
    "upstream_ms", "ttft_ms", "overhead_ms", "prompt_tokens", "completion_tokens",
    "cached_tokens", "cache_write_tokens", "cost_usd", "attempts", "client_ip", "user_agent",
    "annotations",
)  # fmt: skip
BODY_COLUMNS = ("log_id", "request", "response", "response_text", "truncated")

Row = tuple[Any, ...]


class Synthesizer:
    """Rows for [end - days, end), oldest first; `bodies` is the share of rows with a body.

    What a request did (model, outcome, tokens, latency, cost...) is drawn from a
    pool of `POOL` requests sampled up front; each row then only draws its pool
    entry, key, time, id and session. Sums and percentiles follow the same
    distributions, and ten million rows cost seconds of Python, not minutes.
    """

    POOL = 8192

    def __init__(
        self, keys: list[tuple[int, int]], *, rows: int, days: float, end: datetime, seed: int,
        bodies: float,
    ) -> None:  # fmt: skip
        self.rng = random.Random(seed)
        self.keys = keys
        self.total = rows
        self.start = end - timedelta(days=days)
        self.step = days * 86400.0 / max(rows, 1)
        self.bodies = bodies
        self.index = 0
        self.pool = [self._request() for _ in range(self.POOL)]

    def _request(self) -> tuple[Row, Row]:
        """(the log's columns from `endpoint` to `user_agent`, but `session_id`), (a body)."""
        rng = self.rng
        m = MODELS[rng.randrange(len(MODELS))]
        embedding = m.requested.startswith("text-embedding")
        api_format = "anthropic" if m.provider == "anthropic" and rng.random() < 0.7 else "openai"
        endpoint = (
            "embeddings" if embedding else ("messages" if api_format == "anthropic" else "chat")
        )
        status, error_type = rng.choices([o[:2] for o in OUTCOMES], [o[2] for o in OUTCOMES])[0]
        ok = status < 400
        stream = not embedding and rng.random() < 0.6
        latency = rng.lognormvariate(0, 0.6) * m.latency_ms
        prompt = int(rng.lognormvariate(6.0, 1.0)) + 1 if ok else None
        completion = (0 if embedding else int(rng.lognormvariate(5, 1)) + 1) if ok else None
        cost = (
            Decimal(f"{(prompt or 0) * m.usd_per_prompt_token + (completion or 0) * m.usd_per_completion_token:.8f}")
            if ok else None
        )  # fmt: skip
        if embedding:
            finish = ""
        elif ok:
            finish = "length" if rng.random() < m.truncation else "stop"
        else:
            finish = "client_disconnected" if status == 499 else "error"
        log = (
            endpoint, api_format, stream, m.requested, m.resolved, m.provider,
            m.requested if m.requested == "fast" else "", status, error_type,
            f"Upstream {m.provider} answered {status}." if error_type else "",
            finish, status == 499, round(latency, 3),
            round(latency * 0.97, 3) if status != 400 else None,
            round(latency * rng.uniform(0.05, 0.3), 3) if stream and ok else None,
            round(rng.uniform(0.3, 2.5), 3), prompt, completion,
            (int(prompt * 0.3) if prompt and rng.random() < 0.2 else 0) if ok else None,
            0 if ok else None, cost,
            json.dumps([{"target": f"{m.provider}/{m.resolved}", "status": status, "ms": round(latency * 0.97, 3)}]),
            f"10.0.{rng.randrange(256)}.{rng.randrange(1, 255)}", AGENTS[rng.randrange(len(AGENTS))],
            "{}",
        )  # fmt: skip
        question = QUESTIONS[rng.randrange(len(QUESTIONS))].format(n=rng.randrange(10_000))
        request = {"model": m.requested, "stream": stream,
                   "messages": [{"role": "system", "content": "You are a support assistant."},
                                {"role": "user", "content": question}]}  # fmt: skip
        body = (
            json.dumps(request),
            "null",
            f"Synthetic answer to: {question}" if ok else "",
            False,
        )
        return log, body

    def row(self) -> tuple[Row, Row | None]:
        rng = self.rng
        namespace_id, key_id = self.keys[int(rng.random() * len(self.keys))]
        log, body = self.pool[int(rng.random() * self.POOL)]
        created = self.start + timedelta(seconds=self.step * (self.index + rng.random()))
        self.index += 1
        log_id = f"{rng.getrandbits(128):032x}"
        session = f"session-{int(rng.random() * 50_000)}" if rng.random() < 0.5 else ""
        row = (log_id, created, namespace_id, key_id, session, *log)
        if self.bodies and rng.random() < self.bodies:
            return row, (log_id, *body)
        return row, None

    def chunk(self, size: int) -> Iterator[tuple[Row, Row | None]]:
        for _ in range(size):
            yield self.row()


def seed_keys(namespaces: int = 4, keys_per_namespace: int = 2) -> list[tuple[int, int]]:
    """(namespace id, key id) pairs of `seed-NN` namespaces, issuing keys as needed."""
    from proxy.models import ApiKey
    from proxy.services.keys import api_key_create, namespace_get_or_create

    keys: list[tuple[int, int]] = []
    for n in range(namespaces):
        namespace = namespace_get_or_create(name=f"seed-{n:02d}")
        existing = list(
            ApiKey.objects.filter(namespace=namespace).order_by("id").values_list("id", flat=True)
        )
        while len(existing) < keys_per_namespace:
            existing.append(
                api_key_create(namespace=namespace, name=f"seed-key-{len(existing)}").key.id
            )
        keys.extend((namespace.id, key_id) for key_id in existing[:keys_per_namespace])
    return keys


def copy_rows(rows: Iterator[tuple[Row, Row | None]]) -> int:
    """PostgreSQL: one COPY for the logs, then one for their bodies."""
    bodies: list[Row] = []
    count = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3's cursor
        table = RequestLog._meta.db_table
        with raw.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for log, body in rows:
                copy.write_row(log)
                count += 1
                if body is not None:
                    bodies.append(body)
        if bodies:
            table = RequestBody._meta.db_table
            with raw.copy(f"COPY {table} ({', '.join(BODY_COLUMNS)}) FROM STDIN") as copy:
                for body in bodies:
                    copy.write_row(body)
    return count


def bulk_rows(rows: Iterator[tuple[Row, Row | None]]) -> int:
    """Other databases: `bulk_create`, 2,000 rows a statement."""
    logs: list[RequestLog] = []
    bodies: list[RequestBody] = []
    for log, body in rows:
        values = dict(zip(COLUMNS, log, strict=True))
        values["attempts"] = json.loads(values["attempts"])
        values["annotations"] = {}
        logs.append(RequestLog(**values))
        if body is not None:
            bodies.append(
                RequestBody(log_id=body[0], request=json.loads(body[1]), response_text=body[3])
            )
    RequestLog.objects.bulk_create(logs, batch_size=2000)
    RequestBody.objects.bulk_create(bodies, batch_size=2000)
    return len(logs)


@contextmanager
def indexes_built_after() -> Iterator[None]:
    """PostgreSQL, empty log only: drop the log's secondary indexes and foreign keys
    for the load, then build them once over the loaded table.

    Building an index once is several times faster than updating six indexes row by
    row, and one validation pass of a foreign key beats a trigger per row
    (pg_restore loads the same way). With rows already in the log (a system in
    use), or inside a transaction (a test), nothing is dropped.
    """
    if (
        connection.vendor != "postgresql"
        or connection.in_atomic_block
        or RequestLog.objects.exists()
    ):
        yield
        return
    table = RequestLog._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        foreign_keys = cursor.fetchall()
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            [table],
        )
        indexes = cursor.fetchall()
        for name, _ in foreign_keys:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '256MB'")
            for _, definition in indexes:
                cursor.execute(definition)
            for name, definition in foreign_keys:
                cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def seed_logs(
    *,
    rows: int,
    days: float = 30,
    keys: list[tuple[int, int]] | None = None,
    end: datetime | None = None,
    seed: int = 7,
    bodies: float = 0.05,
    chunk: int = 200_000,
    progress: Callable[[int], None] | None = None,
) -> tuple[datetime, datetime]:
    """Insert `rows` request logs spread evenly over the `days` before `end`.

    Returns the window [start, end) the rows fall in. Each chunk is one transaction.
    """
    end = end or timezone.now()
    synth = Synthesizer(
        keys or seed_keys(), rows=rows, days=days, end=end, seed=seed, bodies=bodies
    )
    write = copy_rows if connection.vendor == "postgresql" else bulk_rows
    done = 0
    with indexes_built_after():
        while done < rows:
            with transaction.atomic():
                done += write(synth.chunk(min(chunk, rows - done)))
            if progress:
                progress(done)
    if connection.vendor == "postgresql":  # fresh statistics, or the planner guesses
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {RequestLog._meta.db_table}")
            cursor.execute(f"ANALYZE {RequestBody._meta.db_table}")
    return synth.start, end
