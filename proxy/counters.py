"""Atomic counters in the Django cache, shared by every process that uses the same cache.

With `REDIS_URL` set the cache is Redis and the counters are shared across
server processes; otherwise it is local memory (one process). Every increment
is atomic (`incr`, plus an `add` the first time a key is seen). On Redis the
increments of one request go in one pipelined round trip (SET NX + INCRBY per
key), because the request path waits for them.

When the cache fails, the counters answer None ("unknown") instead of raising,
and skip the cache for `LIMITS_CACHE_RETRY_SECONDS`, so a dead Redis costs one
timeout, not one per request. Callers decide whether unknown means open or closed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache

log = logging.getLogger(__name__)

# INCRBY only when the key exists (a Redis script, atomic).
INCR_IF_EXISTS = (
    "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCRBY', KEYS[1], ARGV[1]) end"
)

Increment = tuple[str, int, float | None]  # key, delta, time to live (None: forever)


class Counters:
    def __init__(self, cache: BaseCache | None = None) -> None:
        self._cache = cache
        self._down_until = 0.0

    @property
    def cache(self) -> BaseCache:
        if self._cache is None:
            # Our own connection object: caches["default"] is per async context, which
            # would build a new client (and Redis connection pool) for every request.
            self._cache = caches.create_connection("default")
        return self._cache

    @property
    def shared(self) -> bool:
        """Whether every server process sees these counters (Redis), not only this one."""
        return isinstance(self.cache, RedisCache)

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self) -> None:
        log.warning("the cache is unreachable; limits and budgets run without it", exc_info=True)
        self._down_until = time.monotonic() + settings.LIMITS_CACHE_RETRY_SECONDS

    def incr(self, key: str, delta: int, ttl: float | None, *, create: bool = True) -> int | None:
        """Add `delta` and return the new value; a missing key starts at 0 with `ttl`
        (or, with `create=False`, stays missing and the answer is None)."""
        if not self.available:
            return None
        cache = self.cache
        try:
            for _ in range(3):
                try:
                    return int(cache.incr(key, delta))
                except ValueError:  # missing (or just expired): create it, then add
                    if not create:
                        return None
                    cache.add(key, 0, ttl)
            return None
        except Exception:
            self._failed()
            return None

    def incr_many(self, items: Sequence[Increment], *, create: bool = True) -> list[int | None]:
        """Several `incr`s; on Redis in one round trip. None for each unknown answer."""
        if not items:
            return []
        cache = self.cache
        if not isinstance(cache, RedisCache):
            return [self.incr(key, delta, ttl, create=create) for key, delta, ttl in items]
        if not self.available:
            return [None] * len(items)
        try:
            pipe = cache._cache.get_client(write=True).pipeline(transaction=False)
            for key, delta, ttl in items:
                full_key = cache.make_and_validate_key(key)
                if create:
                    pipe.set(full_key, 0, ex=None if ttl is None else int(ttl), nx=True)
                    pipe.incrby(full_key, delta)
                else:
                    pipe.eval(INCR_IF_EXISTS, 1, full_key, delta)
            results = pipe.execute()
        except Exception:
            self._failed()
            return [None] * len(items)
        answers = results[1::2] if create else results
        return [None if value is None else int(value) for value in answers]

    def incr_many_and_get(
        self, items: Sequence[Increment], reads: Sequence[str]
    ) -> tuple[list[int | None], list[int | None]]:
        """`incr_many` (creating missing keys) plus the values of `reads` (None: missing
        or unknown); on Redis in the same round trip."""
        cache = self.cache
        if not isinstance(cache, RedisCache):
            found = self.get_many(list(reads)) if reads else {}
            values = self.incr_many(items)
            if found is None:
                return values, [None] * len(reads)
            return values, [None if found.get(k) is None else int(found[k]) for k in reads]
        if not self.available:
            return [None] * len(items), [None] * len(reads)
        try:
            pipe = cache._cache.get_client(write=True).pipeline(transaction=False)
            for key, delta, ttl in items:
                full_key = cache.make_and_validate_key(key)
                pipe.set(full_key, 0, ex=None if ttl is None else int(ttl), nx=True)
                pipe.incrby(full_key, delta)
            for key in reads:
                pipe.get(cache.make_and_validate_key(key))
            results = pipe.execute()
        except Exception:
            self._failed()
            return [None] * len(items), [None] * len(reads)
        added = results[1 : 2 * len(items) : 2]
        read = results[2 * len(items) :]
        return [int(v) for v in added], [None if v is None else int(v) for v in read]

    def seed(self, key: str, value: int, ttl: float | None) -> None:
        """Set a key's value unless another process already has."""
        if not self.available:
            return
        try:
            self.cache.add(key, value, ttl)
        except Exception:
            self._failed()

    def get_many(self, keys: list[str]) -> dict[str, Any] | None:
        if not self.available:
            return None
        try:
            return self.cache.get_many(keys)
        except Exception:
            self._failed()
            return None
