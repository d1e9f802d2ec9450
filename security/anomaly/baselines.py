"""Online baselines: what one key (or namespace) usually does, at constant cost.

A `Profile` keeps, for one subject:
- a ring of the last 64 one-minute buckets (requests, tokens, cost, errors,
  security detections, new client IPs, new user agents), for sliding windows;
- an exponentially weighted mean and variance of each per-minute total;
- a time-of-day profile: the mean request rate in each hour of the day;
- the prompt length distribution (EW mean and variance of log(1 + prompt tokens));
- the model mix (EW share per model, at most `MAX_MODELS`);
- the client IPs and user agents it has seen (bounded LRU sets of `MAX_CLIENTS`).

Everything is O(1) per observation (a minute rollover is O(1) too: at most 64
slots are cleared, and longer gaps are decayed in closed form). Time always
comes from the observation, never from the clock, so a simulator can feed a day
in a second. Pure Python, no Django: the detector, the simulator and the
scheduled refit share it.
"""

from __future__ import annotations

import math
from array import array
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

# Per-minute totals kept in the ring, by index.
REQUESTS, TOKENS, COST, ERRORS, SECURITY, NEW_IPS, NEW_AGENTS, PROMPTS, PROMPT_LOG = range(9)
METRICS = (
    "requests",
    "tokens",
    "cost",
    "errors",
    "security",
    "new_ips",
    "new_agents",
    "prompts",  # requests whose prompt length is known
    "prompt_log",  # sum of log(1 + prompt tokens)
)
RING = 64
MAX_CLIENTS = 256
MAX_MODELS = 16
# Half-life of the per-minute means: about a day, so the daily rhythm averages out.
MINUTE_ALPHA = math.log(2) / 1440
HOUR_ALPHA = 0.25  # one update per hour of the day per day: ~4 days of memory
PROMPT_ALPHA = 0.01
WARM_MINUTES = 1440  # a day of history before a profile's own numbers are trusted


@dataclass(slots=True)
class Observation:
    """One finished request, as the detector sees it."""

    at: float  # epoch seconds (simulated or real)
    key_id: int
    namespace_id: int
    tokens: int = 0
    prompt_tokens: int | None = None
    cost: float = 0.0
    error: bool = False
    security_hits: int = 0
    model: str = ""
    client_ip: str | None = None
    user_agent: str = ""


@dataclass(slots=True)
class Seed:
    """A fitted baseline a new profile starts from (see `fitting.py`)."""

    mean: list[float]
    var: list[float]
    hour_mean: list[float]
    hour_days: list[int]
    prompt_mean: float = 0.0
    prompt_var: float = 1.0
    ips: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    models: dict[str, float] = field(default_factory=dict)
    minutes: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "var": self.var,
            "hour_mean": self.hour_mean,
            "hour_days": self.hour_days,
            "prompt_mean": self.prompt_mean,
            "prompt_var": self.prompt_var,
            "ips": list(self.ips),
            "agents": list(self.agents),
            "models": self.models,
            "minutes": self.minutes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Seed:
        return cls(
            mean=[float(x) for x in data["mean"]],
            var=[float(x) for x in data["var"]],
            hour_mean=[float(x) for x in data["hour_mean"]],
            hour_days=[int(x) for x in data["hour_days"]],
            prompt_mean=float(data.get("prompt_mean", 0.0)),
            prompt_var=float(data.get("prompt_var", 1.0)),
            ips=tuple(data.get("ips", ())),
            agents=tuple(data.get("agents", ())),
            models=dict(data.get("models", {})),
            minutes=int(data.get("minutes", 0)),
        )

    def scaled(self, factor: float) -> Seed:
        """The same behaviour at `factor` times the volume (a share of the traffic)."""
        return Seed(
            mean=[m * factor for m in self.mean],
            var=[v * factor for v in self.var],
            hour_mean=[h * factor for h in self.hour_mean],
            hour_days=list(self.hour_days),
            prompt_mean=self.prompt_mean,
            prompt_var=self.prompt_var,
            ips=self.ips,
            agents=self.agents,
            models=dict(self.models),
            minutes=self.minutes,
        )


def _remember(known: OrderedDict[str, float], value: str, at: float) -> bool:
    """Mark `value` seen at `at`; True when it was not known. LRU-bounded."""
    if value in known:
        known.move_to_end(value)
        known[value] = at
        return False
    known[value] = at
    if len(known) > MAX_CLIENTS:
        known.popitem(last=False)
    return True


class Profile:
    """The learned behaviour of one subject, updated one observation at a time."""

    __slots__ = (
        "agents",
        "first_minute",
        "hour_acc",
        "hour_days",
        "hour_mean",
        "ips",
        "last_hour",
        "mean",
        "minute",
        "minutes_seen",
        "models",
        "prompt_mean",
        "prompt_n",
        "prompt_var",
        "recent_new_ips",
        "ring",
        "ring_minute",
        "roll",
        "var",
    )

    def __init__(self, minute: int, seed: Seed | None = None) -> None:
        n = len(METRICS)
        self.ring = [array("d", bytes(8 * n)) for _ in range(RING)]
        self.ring_minute = [-1] * RING
        self.roll = [0.0] * n  # sums over the completed minutes 1..59 before the current one
        self.minute = minute
        self.first_minute = minute
        self.last_hour = minute // 60
        self.hour_acc = 0.0
        self.ips: OrderedDict[str, float] = OrderedDict()
        self.agents: OrderedDict[str, float] = OrderedDict()
        self.models: dict[str, float] = {}
        self.recent_new_ips: list[str] = []
        self.prompt_n = 0
        if seed is None:
            self.mean = [0.0] * n
            self.var = [0.0] * n
            self.hour_mean = [0.0] * 24
            self.hour_days = [0] * 24
            self.minutes_seen = 0
            self.prompt_mean, self.prompt_var = 0.0, 1.0
        else:
            self.mean, self.var = list(seed.mean), list(seed.var)
            self.hour_mean, self.hour_days = list(seed.hour_mean), list(seed.hour_days)
            self.minutes_seen = max(seed.minutes, WARM_MINUTES)
            self.prompt_mean, self.prompt_var = seed.prompt_mean, seed.prompt_var
            self.prompt_n = 100 if seed.minutes else 0
            for ip in seed.ips:
                _remember(self.ips, ip, 0.0)
            for agent in seed.agents:
                _remember(self.agents, agent, 0.0)
            self.models = dict(seed.models)
        slot = minute % RING
        self.ring_minute[slot] = minute

    # --- reading ----------------------------------------------------------------
    @property
    def warm(self) -> bool:
        return self.minutes_seen >= WARM_MINUTES

    def slot(self, ago: int) -> array[float] | None:
        """The bucket of the minute `ago` minutes before the current one, if kept."""
        minute = self.minute - ago
        index = minute % RING
        return self.ring[index] if self.ring_minute[index] == minute else None

    def window(self, metric: int, minutes: int, fraction: float) -> float:
        """Sliding total over the last `minutes` minutes; `fraction` of the current minute elapsed.

        The oldest minute counts in proportion to the part still inside the window.
        """
        current = self.ring[self.minute % RING][metric]
        if minutes == 60:
            oldest = self.slot(60)
            return current + self.roll[metric] + (oldest[metric] * (1 - fraction) if oldest else 0)
        total = current
        for ago in range(1, minutes):
            bucket = self.slot(ago)
            if bucket is not None:
                total += bucket[metric]
        oldest = self.slot(minutes)
        if oldest is not None:
            total += oldest[metric] * (1 - fraction)
        return total

    def hour_rate(self, hour_of_day: int) -> float | None:
        """Mean requests per minute in this hour of the day, once seen on 2+ days."""
        if self.hour_days[hour_of_day] >= 2:
            return self.hour_mean[hour_of_day]
        return None

    # --- writing ----------------------------------------------------------------
    def advance(self, minute: int) -> None:
        """Close every minute up to `minute` (exclusive) into the statistics."""
        if minute <= self.minute:
            return
        gap = minute - self.minute
        for step in range(min(gap, RING)):
            closing = self.minute + step
            self._close_minute(closing)
        if gap > RING:  # a long quiet spell: decay the means in closed form
            quiet = gap - RING
            decay = (1 - MINUTE_ALPHA) ** quiet
            for metric in range(len(METRICS)):
                self.var[metric] = decay * (self.var[metric] + (1 - decay) * self.mean[metric] ** 2)
                self.mean[metric] *= decay
            self.minutes_seen += quiet
            self.roll = [0.0] * len(METRICS)
            self._close_hours(minute)
        self.minute = minute
        slot = minute % RING
        self.ring[slot] = array("d", bytes(8 * len(METRICS)))
        self.ring_minute[slot] = minute

    def _close_minute(self, minute: int) -> None:
        index = minute % RING
        bucket = self.ring[index] if self.ring_minute[index] == minute else None
        values = bucket if bucket is not None else [0.0] * len(METRICS)
        self.minutes_seen += 1
        alpha = max(MINUTE_ALPHA, 1.0 / self.minutes_seen)
        for metric, value in enumerate(values):
            mean, var = self.mean[metric], self.var[metric]
            # Winsorised: one attack minute must not teach the baseline the attack.
            if self.minutes_seen > WARM_MINUTES:
                value = min(value, mean + 6 * math.sqrt(var + mean) + 1)
            delta = value - mean
            mean += alpha * delta
            self.mean[metric] = mean
            self.var[metric] = (1 - alpha) * (var + alpha * delta * delta)
        # Rolling 59-minute sums: the closed minute enters, the one 60 minutes back leaves.
        leaving_minute = minute - 59
        leaving_index = leaving_minute % RING
        leaving = (
            self.ring[leaving_index] if self.ring_minute[leaving_index] == leaving_minute else None
        )
        for metric, value in enumerate(values):
            rolled = self.roll[metric] + value - (leaving[metric] if leaving else 0.0)
            self.roll[metric] = max(0.0, rolled)
        self.hour_acc += values[REQUESTS]
        self._close_hours(minute + 1)

    def _close_hours(self, next_minute: int) -> None:
        hour = next_minute // 60
        if hour == self.last_hour:
            return
        of_day = self.last_hour % 24
        days = self.hour_days[of_day] + 1
        alpha = max(HOUR_ALPHA, 1.0 / days)
        rate = self.hour_acc / 60
        if days > 2:  # winsorised, like the minute statistics
            rate = min(rate, self.hour_mean[of_day] * 4 + 2)
        self.hour_mean[of_day] += alpha * (rate - self.hour_mean[of_day])
        self.hour_days[of_day] = days
        # Hours skipped entirely were quiet: they teach "nothing happens then".
        for skipped in range(self.last_hour + 1, min(hour, self.last_hour + 25)):
            of_day = skipped % 24
            days = self.hour_days[of_day] + 1
            alpha = max(HOUR_ALPHA, 1.0 / days)
            self.hour_mean[of_day] -= alpha * self.hour_mean[of_day]
            self.hour_days[of_day] = days
        self.hour_acc = 0.0
        self.last_hour = hour

    def add(self, obs: Observation, minute: int) -> tuple[bool, bool]:
        """Count one request into the current minute. Returns (new IP, new agent)."""
        if minute > self.minute:
            self.advance(minute)
        bucket = self.ring[self.minute % RING]
        bucket[REQUESTS] += 1
        bucket[TOKENS] += obs.tokens
        bucket[COST] += obs.cost
        if obs.error:
            bucket[ERRORS] += 1
        if obs.security_hits:  # requests flagged, not detections: the unit the refit counts
            bucket[SECURITY] += 1
        new_ip = new_agent = False
        if obs.client_ip:
            new_ip = _remember(self.ips, obs.client_ip, obs.at)
            if new_ip and self.warm:
                bucket[NEW_IPS] += 1
                self.recent_new_ips.append(obs.client_ip)
                del self.recent_new_ips[:-16]
        if obs.user_agent:
            new_agent = _remember(self.agents, obs.user_agent, obs.at)
            if new_agent and self.warm:
                bucket[NEW_AGENTS] += 1
        if obs.prompt_tokens is not None:
            value = math.log1p(obs.prompt_tokens)
            bucket[PROMPTS] += 1
            bucket[PROMPT_LOG] += value
            self.prompt_n += 1
            alpha = max(PROMPT_ALPHA, 1.0 / self.prompt_n)
            delta = value - self.prompt_mean
            self.prompt_mean += alpha * delta
            self.prompt_var = (1 - alpha) * (self.prompt_var + alpha * delta * delta)
        if obs.model:
            self._count_model(obs.model)
        return new_ip, new_agent

    def _count_model(self, model: str) -> None:
        share = self.models.get(model)
        if share is None and len(self.models) >= MAX_MODELS:
            rarest = min(self.models, key=self.models.__getitem__)
            del self.models[rarest]
        for name in self.models:
            self.models[name] *= 1 - PROMPT_ALPHA
        self.models[model] = (share or 0.0) * (1 - PROMPT_ALPHA) + PROMPT_ALPHA

    def to_seed(self) -> Seed:
        return Seed(
            mean=list(self.mean),
            var=list(self.var),
            hour_mean=list(self.hour_mean),
            hour_days=list(self.hour_days),
            prompt_mean=self.prompt_mean,
            prompt_var=self.prompt_var,
            ips=tuple(self.ips),
            agents=tuple(self.agents),
            models=dict(self.models),
            minutes=self.minutes_seen,
        )
