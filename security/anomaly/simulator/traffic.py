"""Normal traffic: several keys, each with its own daily rhythm, in simulated time.

Arrivals are a non-homogeneous Poisson process (thinning against the key's
peak rate); each arrival is a short session of 1 to 4 requests a few seconds
apart, which makes per-minute counts over-dispersed the way real clients are.
Everything is drawn from one `random.Random`, so a run is reproducible from
its seed.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from security.anomaly.baselines import Observation

# Simulated prices per million tokens (input, output), by model.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "claude-sonnet": (3.00, 15.00),
}


@dataclass(frozen=True)
class KeySpec:
    key_id: int
    name: str
    namespace_id: int
    namespace: str
    peak_rate: float  # requests per minute at the busiest hour (sessions × their size)
    rhythm: str  # "always", "office", "nightly", "evening"
    ips: tuple[str, ...]
    agents: tuple[str, ...]
    models: tuple[str, ...] = ("gpt-4o-mini",)
    prompt_tokens: int = 300  # median prompt length
    completion_tokens: int = 200
    error_rate: float = 0.01
    false_positive_rate: float = 0.002  # share of prompts a security check flags anyway

    @property
    def label(self) -> str:
        return f"key {self.name}"


def rhythm_level(rhythm: str, at: float) -> float:
    """The share of the peak rate expected at `at` (0..1)."""
    hour = (at % 86400) / 3600
    if rhythm == "always":
        return 0.55 + 0.45 * math.sin((hour - 8) / 24 * 2 * math.pi)
    if rhythm == "office":
        return 1.0 if 9 <= hour < 18 else 0.25 if 7 <= hour < 9 or 18 <= hour < 20 else 0.01
    if rhythm == "nightly":
        return 1.0 if 1 <= hour < 4 else 0.02
    if rhythm == "evening":
        return 1.0 if 18 <= hour < 23 else 0.15
    raise ValueError(f"unknown rhythm {rhythm!r}")


@dataclass(slots=True)
class SimRequest:
    """One request of the simulation: enough for the detector and for a real HTTP call."""

    at: float
    key: KeySpec
    ip: str
    agent: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    security_hits: int = 0
    error: bool = False
    text: str = ""
    attack: str = ""
    max_tokens: int | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def cost(self) -> float:
        price_in, price_out = PRICES.get(self.model, (1.0, 3.0))
        return (self.prompt_tokens * price_in + self.completion_tokens * price_out) / 1e6

    def observation(self) -> Observation:
        return Observation(
            at=self.at,
            key_id=self.key.key_id,
            namespace_id=self.key.namespace_id,
            tokens=self.prompt_tokens + self.completion_tokens,
            prompt_tokens=self.prompt_tokens,
            cost=self.cost,
            error=self.error,
            security_hits=self.security_hits,
            model=self.model,
            client_ip=self.ip,
            user_agent=self.agent,
        )


def default_keys() -> list[KeySpec]:
    """The simulated organisation: two namespaces, six keys with different habits."""
    sdk = "OpenAI/Python 1.54.0"
    return [
        KeySpec(1, "ops-bot", 1, "platform", 2.0, "always", ("10.0.1.10", "10.0.1.11"), (sdk,)),
        KeySpec(
            2,
            "web-app",
            1,
            "platform",
            6.0,
            "office",
            ("10.0.2.20", "10.0.2.21", "10.0.2.22", "10.0.2.23"),
            (sdk, "node-fetch/3.3"),
            models=("gpt-4o-mini", "gpt-4o"),
        ),
        KeySpec(
            3,
            "batch-etl",
            1,
            "platform",
            8.0,
            "nightly",
            ("10.0.3.30",),
            ("python-httpx/0.28",),
            prompt_tokens=1200,
            completion_tokens=400,
        ),
        KeySpec(4, "analyst", 2, "research", 0.6, "office", ("192.168.7.4",), (sdk,)),
        KeySpec(
            5,
            "support-bot",
            2,
            "research",
            3.0,
            "evening",
            ("10.9.0.5", "10.9.0.6"),
            ("support-bot/2.1",),
            models=("claude-sonnet",),
        ),
        KeySpec(6, "notebook", 2, "research", 1.0, "always", ("192.168.7.9",), (sdk,)),
    ]


def _words(rng: random.Random, count: int) -> str:
    vocabulary = ("summarise", "report", "invoice", "customer", "ticket", "draft", "review")
    return " ".join(rng.choice(vocabulary) for _ in range(max(1, min(count, 400))))


def normal_request(rng: random.Random, key: KeySpec, at: float) -> SimRequest:
    prompt = max(5, int(rng.lognormvariate(math.log(key.prompt_tokens), 0.5)))
    completion = max(1, int(rng.lognormvariate(math.log(key.completion_tokens), 0.5)))
    return SimRequest(
        at=at,
        key=key,
        ip=rng.choice(key.ips),
        agent=rng.choice(key.agents),
        model=rng.choice(key.models),
        prompt_tokens=prompt,
        completion_tokens=completion,
        security_hits=1 if rng.random() < key.false_positive_rate else 0,
        error=rng.random() < key.error_rate,
        text=_words(rng, prompt // 4),
    )


SESSION_MEAN = 2.0  # requests per session


def key_requests(
    rng: random.Random, key: KeySpec, start: float, end: float
) -> Iterator[SimRequest]:
    """The normal requests of one key between `start` and `end`, in time order."""
    session_rate = key.peak_rate / SESSION_MEAN / 60  # sessions per second at peak
    at = start
    pending: list[tuple[float, int, SimRequest]] = []
    counter = 0
    while True:
        at += rng.expovariate(session_rate)
        while pending and pending[0][0] <= min(at, end):
            yield heapq.heappop(pending)[2]
        if at >= end:
            break
        if rng.random() > rhythm_level(key.rhythm, at):
            continue
        size = 1 + min(3, int(rng.expovariate(1 / (SESSION_MEAN - 1))))
        moment = at
        for _ in range(size):
            counter += 1
            heapq.heappush(pending, (moment, counter, normal_request(rng, key, moment)))
            moment += rng.uniform(2, 12)
    while pending:
        request = heapq.heappop(pending)[2]
        if request.at < end:
            yield request


def merged(*streams: Iterator[SimRequest]) -> Iterator[SimRequest]:
    """Several time-ordered streams as one."""
    return heapq.merge(*streams, key=lambda request: request.at)


def organisation_traffic(
    rng: random.Random, keys: list[KeySpec], start: float, end: float
) -> Iterator[SimRequest]:
    streams = [key_requests(random.Random(rng.random()), key, start, end) for key in keys]
    return merged(*streams)
