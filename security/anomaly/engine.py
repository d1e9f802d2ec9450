"""The anomaly engine of one server process: a Runtime extension.

- `observe(entry)` is called once per finished request (after it is handed to
  the log writer). It turns the record into an `Observation`, feeds the
  process's `Detector` (constant cost) and, for the rare findings, applies the
  hot-path part of the matching rules at once (a key to suspend is refused by
  this process from the next request on; a throttle or an IP block too) and
  hands the finding to its own writer thread, which records the Anomaly and the
  countermeasures in the database and audits them.
- `guard(call, snapshot)` runs after authentication: it refuses a quarantined
  key, a blocked client IP, and requests over a throttle.

Several server processes: each sees its share of the traffic and learns its
baselines from that same share, so ratios hold under load balancing; fitted
baselines (from the whole history) are divided by `ANOMALY_SERVER_PROCESSES`
before a new profile starts from them. Countermeasures decided in one process
reach the others through the database and the configuration snapshot (within
`CONFIG_REFRESH_SECONDS`). A throttle's cap is counted in the shared cache when it is
Redis (exact across processes); otherwise each process enforces its share of it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from django.conf import settings

from proxy.errors import ProxyError
from security.anomaly.baselines import Observation, Seed
from security.anomaly.detection import Detector
from security.anomaly.findings import Finding
from security.anomaly.snapshot import AnomalyConfig

if TYPE_CHECKING:
    from proxy.call import Call
    from proxy.config import ConfigSnapshot
    from proxy.recorder import LogEntry
    from proxy.runtime import Runtime

log = logging.getLogger(__name__)

GUARD_ANNOTATION = "anomaly_guard"
MAX_PENDING = 1000
EMPTY = AnomalyConfig()


def observation_from_entry(entry: LogEntry) -> Observation | None:
    if entry.api_key_id is None or entry.namespace_id is None:
        return None
    annotations = entry.annotations or {}
    security = annotations.get("security") or []
    return Observation(
        at=entry.created_at.timestamp() + entry.latency_ms / 1000,
        key_id=entry.api_key_id,
        namespace_id=entry.namespace_id,
        tokens=(entry.prompt_tokens or 0) + (entry.completion_tokens or 0),
        prompt_tokens=entry.prompt_tokens,
        cost=float(entry.cost_usd) if entry.cost_usd is not None else 0.0,
        error=entry.status_code >= 400 and GUARD_ANNOTATION not in annotations,
        security_hits=len(security) if isinstance(security, list) else 0,
        model=entry.requested_model,
        client_ip=entry.client_ip,
        user_agent=entry.user_agent,
    )


class AnomalyEngine:
    name = "anomaly"

    def __init__(self, runtime: Runtime | None = None, clock: Callable[[], float] = time.time):
        self.runtime = runtime
        self.clock = clock
        self.detector = Detector(seeds=self._seed)
        self._lock = threading.Lock()
        self._writer: ThreadPoolExecutor | None = None
        self._pending = 0
        self._quarantined: set[int] = set()
        self._throttles: dict[int, int] = {}  # decided here, not yet in the snapshot
        self._blocked: set[tuple[int, str]] = set()
        self._counts: dict[int, tuple[int, int]] = {}  # throttled key -> (minute, requests)
        self.handled: list[Any] = []  # recent results of the writer (for tests and the CLI)

    def reset(self) -> None:
        """Forget every learned profile and pending hot-path decision."""
        self.flush()
        self.detector = Detector(seeds=self._seed)
        self._quarantined.clear()
        self._throttles.clear()
        self._blocked.clear()
        self._counts.clear()
        self.handled.clear()

    # --- configuration --------------------------------------------------------------
    def config(self) -> AnomalyConfig:
        snapshot = self.runtime.config.peek() if self.runtime else None
        if snapshot is None:
            return EMPTY
        config = snapshot.extra.get("anomaly")
        return config if isinstance(config, AnomalyConfig) else EMPTY

    def _seed(self, subject: str, subject_id: int) -> Seed | None:
        seed = self.config().seeds.get((subject, subject_id))
        processes = max(1, settings.ANOMALY_SERVER_PROCESSES)
        return seed.scaled(1 / processes) if seed is not None and processes > 1 else seed

    # --- observing (after every request) ---------------------------------------------
    def observe(self, entry: LogEntry) -> list[Finding]:
        if not settings.ANOMALY_DETECTION:
            return []
        observation = observation_from_entry(entry)
        if observation is None:
            return []
        with self._lock:  # the log writer's callers may be several threads
            findings = self.detector.observe(observation)
        for finding in findings:
            self._act_now(finding)
            self._submit(finding)
        return findings

    def _act_now(self, finding: Finding) -> None:
        """The hot-path part of the rules: effective in this process before any DB write."""
        if finding.key_id is None:
            return
        for rule in self.config().rules_for(finding.kind, finding.severity, finding.namespace_id):
            if rule.action == "suspend":
                self._quarantined.add(finding.key_id)
            elif rule.action == "throttle":
                rpm = rule.throttle_rpm or settings.ANOMALY_DEFAULT_THROTTLE_RPM
                self._throttles[finding.key_id] = rpm
            elif rule.action == "block_ip":
                for ip in finding.details.get("ips") or ():
                    self._blocked.add((finding.key_id, ip))

    def _submit(self, finding: Finding) -> None:
        with self._lock:
            if self._pending >= MAX_PENDING:
                log.warning("anomaly writer is behind; finding dropped: %s", finding)
                return
            self._pending += 1
            if self._writer is None:
                self._writer = ThreadPoolExecutor(1, thread_name_prefix="llmproxy-anomaly")
        self._writer.submit(self._write, finding)

    def _write(self, finding: Finding) -> None:
        from django.db import close_old_connections, connection

        from security.anomaly.responses import finding_handle

        close_old_connections()
        try:
            self.handled.append((finding, finding_handle(finding=finding)))
            del self.handled[:-100]
        except Exception:
            log.exception("could not record anomaly %s %s", finding.subject, finding.kind)
        finally:
            connection.close()  # findings are rare: hold no connection in between
            # Stored (or failed): the snapshot is authoritative again for this key.
            if finding.key_id is not None:
                self._quarantined.discard(finding.key_id)
                self._throttles.pop(finding.key_id, None)
                self._blocked = {b for b in self._blocked if b[0] != finding.key_id}
            with self._lock:
                self._pending -= 1

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every finding handed to the writer is stored."""
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.005)
        return self._pending == 0

    # --- guarding (after authentication) ---------------------------------------------
    def guard(self, call: Call, snapshot: ConfigSnapshot) -> None:
        key = call.key
        if key is None:
            return
        if key.id in self._quarantined:
            call.annotations[GUARD_ANNOTATION] = "suspended"
            raise ProxyError(403, "permission", "This API key is suspended.", code="key_suspended")
        config = snapshot.extra.get("anomaly")
        if not isinstance(config, AnomalyConfig):
            config = EMPTY
        now = self.clock()
        ip = call.client_ip
        if ip is not None:
            expires = config.blocked_ips.get(key.id, {}).get(ip, 0.0)
            if (key.id, ip) in self._blocked or expires is None or expires > now:
                call.annotations[GUARD_ANNOTATION] = "ip_blocked"
                raise ProxyError(
                    403,
                    "permission",
                    "Requests with this API key from this address are blocked.",
                    code="client_ip_blocked",
                )
        rpm = self._throttles.get(key.id)
        throttle = config.throttles.get(key.id)
        if throttle is not None and (throttle[1] is None or throttle[1] > now):
            rpm = min(rpm or throttle[0], throttle[0])
        if rpm is None:
            return
        minute = int(now // 60)
        count = self._shared_count(key.id, minute)
        if count is None:  # counted by this process alone: its share of the cap
            rpm = max(1, rpm // max(1, settings.ANOMALY_SERVER_PROCESSES))
            seen_minute, count = self._counts.get(key.id, (minute, 0))
            count = count + 1 if seen_minute == minute else 1
            self._counts[key.id] = (minute, count)
        if count > rpm:
            call.annotations[GUARD_ANNOTATION] = "throttled"
            retry = str(int(60 - now % 60) + 1)
            raise ProxyError(
                429,
                "rate_limit",
                f"This API key is temporarily limited to {rpm} requests per minute.",
                code="anomaly_throttle",
                headers={"retry-after": retry},
            )

    def _shared_count(self, key_id: int, minute: int) -> int | None:
        """This minute's requests of a throttled key across every process (Redis), or None
        when the counters are this process's own or the cache is down."""
        counters = self.runtime.counters if self.runtime else None
        if counters is None or not counters.shared:
            return None
        [count] = counters.incr_many([(f"llmproxy:anomaly:throttle:{key_id}:{minute}", 1, 120)])
        return count


def get_engine() -> AnomalyEngine:
    from proxy.runtime import get_runtime

    engine = get_runtime().extension("anomaly")
    assert isinstance(engine, AnomalyEngine)
    return engine
