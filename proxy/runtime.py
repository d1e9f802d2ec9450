"""The per-process runtime: one database thread, the configuration snapshot,
the request-log writer, the upstream HTTP clients, the targets' circuit
breakers and the handle on the shared limit counters.

It is created once per process by the `proxy` app config and reached through
`get_runtime()`; nothing else in the project keeps process state.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from django.apps import apps
from django.db import DatabaseError, close_old_connections
from django.db.utils import InterfaceError, OperationalError
from django.utils.module_loading import import_string

from proxy.breaker import CircuitBreakers
from proxy.config import ConfigHolder, ConfigSnapshot
from proxy.counters import Counters
from proxy.recorder import LogEntry, Recorder
from proxy.upstream import UpstreamClients

if TYPE_CHECKING:
    from proxy.call import Call

T = TypeVar("T")
log = logging.getLogger(__name__)


class DatabaseUnavailable(OperationalError):
    """The database failed just now; the request path does not try it again yet."""


# Per-process extensions other apps plug in: dotted paths of classes built with
# the Runtime. An extension has a `name`, and may have `guard(call, snapshot)`
# (runs after authentication; raises ProxyError to refuse the request) and
# `observe(entry)` (sees every finished request's record; must be cheap).
RUNTIME_EXTENSIONS: tuple[str, ...] = ("security.anomaly.engine.AnomalyEngine",)

# Unknown keys are remembered briefly so that a flood of bad keys cannot turn
# into a flood of database queries.
MISSED_KEY_SECONDS = 5.0
MISSED_KEY_LIMIT = 10_000

# After the database fails, requests stop trying it for this long: during an outage
# a request pays for one failed attempt per interval, not one connection timeout each.
DATABASE_RETRY_SECONDS = 2.0

# Called with every finished request's LogEntry right after it is handed to the log
# writer, on the hot path: each must be cheap, never block and never raise
# (live dashboard events, in-process Prometheus counters).
REQUEST_OBSERVERS: tuple[str, ...] = (
    "analytics.metrics.observe_request",
    "dashboard.broadcast.observe_request",
)


class Runtime:
    def __init__(self) -> None:
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmproxy-db")
        self.config = ConfigHolder(self.run_on_db_thread)
        self.recorder = Recorder()
        self.upstream = UpstreamClients()
        self.breakers = CircuitBreakers()  # per process: see proxy.breaker
        self.counters = Counters()  # shared through the Django cache
        self.rng = random.Random()  # weighted routing and retry jitter
        self._missed_keys: dict[str, float] = {}
        self._database_down_until = 0.0
        self.in_flight = 0
        self.extensions: dict[str, Any] = {}
        for dotted in RUNTIME_EXTENSIONS:
            extension = import_string(dotted)(self)
            self.extensions[extension.name] = extension
        self._guards = [e.guard for e in self.extensions.values() if hasattr(e, "guard")]
        self._observers: tuple[Callable[[LogEntry], None], ...] | None = None

    def extension(self, name: str) -> Any:
        return self.extensions[name]

    def guard(self, call: Call, snapshot: ConfigSnapshot) -> None:
        """Let the extensions refuse an authenticated request (ProxyError)."""
        for guard in self._guards:
            guard(call, snapshot)

    def request_started(self) -> None:
        self.in_flight += 1

    def request_ended(self, entry: LogEntry) -> None:
        """Every request ends here exactly once: its record goes to the log writer."""
        self.in_flight -= 1
        self.recorder.record(entry)
        if self._observers is None:  # imported on first use: the apps are ready by then
            self._observers = (
                *(e.observe for e in self.extensions.values() if hasattr(e, "observe")),
                *(import_string(path) for path in REQUEST_OBSERVERS),
            )
        for observe in self._observers:
            try:
                observe(entry)
            except Exception:  # an observer must never fail a request
                log.exception("request observer %r failed on %s", observe, entry.id)

    def recently_missed(self, digest: str) -> bool:
        """Whether this key hash was unknown to the database a moment ago."""
        seen = self._missed_keys.get(digest)
        return seen is not None and time.monotonic() - seen < MISSED_KEY_SECONDS

    def invalidate_config(self) -> None:
        """Configuration changed in this process: reload before the next request."""
        self._missed_keys.clear()
        self.config.invalidate()

    def remember_miss(self, digest: str) -> None:
        if len(self._missed_keys) >= MISSED_KEY_LIMIT:
            self._missed_keys.clear()
        self._missed_keys[digest] = time.monotonic()

    async def run_on_db_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run synchronous ORM code on this process's database thread.

        Raises `DatabaseUnavailable` (a `DatabaseError`) when the database failed, or
        failed less than `DATABASE_RETRY_SECONDS` ago: callers on the request path
        decide whether that means open or closed.
        """
        if time.monotonic() < self._database_down_until:
            raise DatabaseUnavailable("the database was unreachable a moment ago")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._db, functools.partial(_with_fresh_connection, fn, *args)
            )
        except DatabaseUnavailable:
            raise
        except DatabaseError as exc:
            if not isinstance(exc, OperationalError | InterfaceError):
                raise  # a query's own error (integrity, data): the database is up
            self._database_down_until = time.monotonic() + DATABASE_RETRY_SECONDS
            log.warning(
                "the database is unreachable; the request path skips it for %.0f s",
                DATABASE_RETRY_SECONDS,
            )
            raise DatabaseUnavailable(str(exc)) from exc

    def shutdown(self) -> None:
        self.recorder.stop()


def _with_fresh_connection(fn: Callable[..., T], *args: Any) -> T:
    close_old_connections()
    try:
        return fn(*args)
    except Exception:
        from django.db import connection

        connection.close()
        raise


def get_runtime() -> Runtime:
    config = apps.get_app_config("proxy")
    runtime: Runtime | None = getattr(config, "runtime", None)
    if runtime is None:
        runtime = Runtime()
        config.runtime = runtime  # type: ignore[attr-defined]
    return runtime
