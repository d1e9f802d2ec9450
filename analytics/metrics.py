"""In-process Prometheus metrics, updated on the hot path for the price of a dict update.

Hand-written text exposition (format 0.0.4) rather than `prometheus_client`: a
dozen series, no dependency, and the hot-path update is one lock and a few dict
operations. Counters are per process, as Prometheus expects of a scrape target;
`/metrics` also reports gauges read at scrape time (recorder queue, in-flight
requests, dashboard subscribers, django-q2 queue).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from django.apps import apps

if TYPE_CHECKING:
    from proxy.recorder import LogEntry

Labels = tuple[tuple[str, str], ...]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
OVERHEAD_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)

HELP = {
    "llmproxy_requests_total": ("counter", "Requests handled, by namespace id, model, status."),
    "llmproxy_request_duration_seconds": ("histogram", "Request latency seen by the client."),
    "llmproxy_overhead_seconds": ("histogram", "Time spent in the proxy, upstream excluded."),
    "llmproxy_tokens_total": ("counter", "Tokens by model and kind (prompt, completion, cached)."),
    "llmproxy_spend_usd_total": ("counter", "Spend in US dollars, by namespace id and model."),
    "llmproxy_cache_hits_total": ("counter", "Requests answered from the response cache."),
    "llmproxy_security_detections_total": ("counter", "Security detections by kind."),
    "llmproxy_upstream_errors_total": ("counter", "Failed upstream attempts by provider."),
}


class Metrics:
    """Counters and histograms of one process. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[tuple[str, Labels], float] = {}
        self._histograms: dict[tuple[str, Labels], list[float]] = {}
        self._bounds: dict[str, tuple[float, ...]] = {}

    def inc(self, name: str, labels: Labels = (), value: float = 1.0) -> None:
        key = (name, labels)
        with self._lock:
            self._counters[key] = self._counters.get(key, 0.0) + value

    def observe(
        self, name: str, value: float, buckets: tuple[float, ...], labels: Labels = ()
    ) -> None:
        key = (name, labels)
        with self._lock:
            series = self._histograms.get(key)
            if series is None:
                # one slot per bound, one for +Inf, then the sum and the count
                series = self._histograms[key] = [0.0] * (len(buckets) + 3)
                self._bounds[name] = buckets
            series[bisect.bisect_left(buckets, value)] += 1  # this bucket; cumulated at render
            series[-2] += value  # sum
            series[-1] += 1  # count

    def observe_entry(self, entry: LogEntry) -> None:
        model = entry.resolved_model or entry.requested_model or "unknown"
        namespace = str(entry.namespace_id or "")
        self.inc(
            "llmproxy_requests_total",
            (("namespace_id", namespace), ("model", model), ("status", str(entry.status_code))),
        )
        provider = (("provider", entry.provider or "none"),)
        self.observe(
            "llmproxy_request_duration_seconds", entry.latency_ms / 1000, LATENCY_BUCKETS, provider
        )
        if entry.overhead_ms is not None:
            self.observe("llmproxy_overhead_seconds", entry.overhead_ms / 1000, OVERHEAD_BUCKETS)
        for kind, count in (
            ("prompt", entry.prompt_tokens),
            ("completion", entry.completion_tokens),
            ("cached", entry.cached_tokens),
        ):
            if count:
                self.inc("llmproxy_tokens_total", (("model", model), ("kind", kind)), count)
        if isinstance(entry.cost_usd, Decimal | float | int) and entry.cost_usd:
            self.inc(
                "llmproxy_spend_usd_total",
                (("namespace_id", namespace), ("model", model)),
                float(entry.cost_usd),
            )
        annotations = entry.annotations or {}
        if annotations.get("cache") == "hit":
            self.inc("llmproxy_cache_hits_total")
        for kind in _detection_kinds(annotations.get("security")):
            self.inc("llmproxy_security_detections_total", (("kind", kind),))
        for attempt in entry.attempts:
            status = attempt.get("status")
            if isinstance(status, int) and status >= 400:
                target = str(attempt.get("target", ""))
                self.inc(
                    "llmproxy_upstream_errors_total",
                    (("provider", target.split("/", 1)[0]), ("status", str(status))),
                )

    def render(self, gauges: Iterable[tuple[str, str, float]] = ()) -> str:
        with self._lock:
            counters = dict(self._counters)
            histograms = {key: list(values) for key, values in self._histograms.items()}
        lines: list[str] = []
        for name, (kind, text) in HELP.items():
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
            if kind == "counter":
                for (series, labels), value in sorted(counters.items()):
                    if series == name:
                        lines.append(f"{name}{_labels(labels)} {_number(value)}")
                continue
            buckets = self._bounds.get(name, ())
            for (series, labels), values in sorted(histograms.items()):
                if series != name:
                    continue
                cumulative = 0.0
                for bound, count in zip((*buckets, "+Inf"), values[:-2], strict=True):
                    cumulative += count
                    le = (("le", bound if isinstance(bound, str) else repr(bound)),)
                    lines.append(f"{name}_bucket{_labels(labels + le)} {_number(cumulative)}")
                lines.append(f"{name}_sum{_labels(labels)} {values[-2]!r}")
                lines.append(f"{name}_count{_labels(labels)} {_number(values[-1])}")
        for name, text, value in gauges:
            lines += [f"# HELP {name} {text}", f"# TYPE {name} gauge", f"{name} {_number(value)}"]
        return "\n".join(lines) + "\n"


def _detection_kinds(security: object) -> list[str]:
    """Kinds from the `security` annotation: a list of findings, or a dict with `findings`."""
    if isinstance(security, dict):
        security = security.get("findings") or security.get("detections") or []
    if not isinstance(security, list):
        return []
    kinds = []
    for finding in security:
        if isinstance(finding, dict):
            kinds.append(
                str(
                    finding.get("detector")
                    or finding.get("kind")
                    or finding.get("check")
                    or "unknown"
                )
            )
        elif isinstance(finding, str):
            kinds.append(finding)
    return kinds


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def get_metrics() -> Metrics:
    config = apps.get_app_config("analytics")
    metrics: Metrics | None = getattr(config, "metrics", None)
    if metrics is None:
        metrics = Metrics()
        config.metrics = metrics  # type: ignore[attr-defined]
    return metrics


def observe_request(entry: LogEntry) -> None:
    """Request observer (see `proxy.runtime.REQUEST_OBSERVERS`)."""
    get_metrics().observe_entry(entry)
