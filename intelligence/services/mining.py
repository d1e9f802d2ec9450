"""Incremental template discovery: a Drain-style index with LCS merging. Pure Python.

Prompts arrive one at a time (`TemplateMiner.add`). A prompt that one of the
known templates matches joins it. Otherwise it is compared with the templates
of the same conversation shape, those sharing its first user tokens first
(Drain's prefix tree), by the longest common subsequence of their tokens
(Spell's merge): when enough of a template's constant user text survives, the
two merge into one template whose differing runs become `<*>` gaps. Nothing
similar: a new pattern starts with the prompt itself as its template.

Versioning: once a template has matched `settle_after` prompts, its constant
text is trusted. A similar prompt that it does not match is then a change of the
template's constant text (someone edited the prompt), not new data: it starts a
new *version* of the same pattern, which later prompts generalise as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from difflib import SequenceMatcher

from intelligence.services.templates import (
    ROLE_MARK,
    SLOT,
    Prompt,
    anchor_of,
    template_regex,
)

MERGE_THRESHOLD = 0.5
SETTLE_AFTER = 10


@dataclass(eq=False)
class Cluster:
    """One template version. `key` and `pattern_key` are database ids once stored."""

    tokens: list[str]
    pattern_key: int
    version: int = 1
    key: int = 0
    size: int = 0
    changed: bool = True
    _regex: object = field(default=None, repr=False)

    @property
    def anchor(self) -> str:
        return anchor_of(self.tokens)

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(t for t in self.tokens if t.startswith(ROLE_MARK))

    def matches(self, prompt: Prompt) -> bool:
        if self._regex is None:
            self._regex = template_regex(self.tokens)
        return self._regex.match(prompt.joined()) is not None  # type: ignore[attr-defined]

    def replace(self, tokens: list[str]) -> None:
        if tokens != self.tokens:
            self.tokens = tokens
            self._regex = None
            self.changed = True


def _split(tokens: list[str]) -> int:
    """Index of the first user token (after the first `§user` marker)."""
    try:
        return tokens.index(ROLE_MARK + "user")
    except ValueError:
        return 0


def merge(template: list[str], prompt: list[str]) -> tuple[float, float, list[str]]:
    """(user score, system score, merged tokens) of a template and a prompt.

    The user score is the share of the template's constant user tokens that the
    longest common subsequence keeps; lone tokens inside a gap (a shared "the")
    are not kept. The merged template has a gap wherever the two differ.
    """
    blocks = [
        b
        for b in SequenceMatcher(None, template, prompt, autojunk=False).get_matching_blocks()
        if b.size
    ]
    kept = []
    for block in blocks:
        at_edge = block.a == 0 or block.a + block.size == len(template)
        marker = template[block.a].startswith(ROLE_MARK)
        if block.size >= 2 or at_edge or marker:
            kept.append(block)
    merged: list[str] = []
    a = b = 0
    for block in kept:
        if (block.a > a or block.b > b) and (not merged or merged[-1] != SLOT):
            merged.append(SLOT)
        merged.extend(template[block.a : block.a + block.size])
        a, b = block.a + block.size, block.b + block.size
    if (a < len(template) or b < len(prompt)) and (not merged or merged[-1] != SLOT):
        merged.append(SLOT)
    split_t = _split(template)
    split_p = _split(prompt)

    def constants(tokens: list[str]) -> int:
        return sum(1 for t in tokens if t != SLOT and not t.startswith(ROLE_MARK))

    kept_user = sum(
        max(0, block.a + block.size - max(block.a, split_t + 1))
        for block in kept
        if block.a + block.size > split_t + 1
    )
    kept_system = sum(
        min(block.a + block.size, split_t) - block.a for block in kept if block.a < split_t
    )
    user_constants = constants(template[split_t:])
    prompt_user = max(1, len(prompt) - split_p - 1)
    if user_constants == 0 or kept_user < min(2, user_constants) or kept_user / prompt_user < 0.15:
        user_score = 0.0
    else:
        user_score = kept_user / user_constants
    system_constants = constants(template[:split_t])
    system_score = 1.0 if system_constants == 0 else kept_system / system_constants
    if (split_t == 0) != (split_p == 0) and (split_t or split_p):
        system_score = 0.0
    return user_score, system_score, merged


@dataclass
class Outcome:
    cluster: Cluster
    created_pattern: bool = False
    created_version: bool = False


class TemplateMiner:
    """Templates of one namespace, learned incrementally."""

    def __init__(
        self,
        clusters: list[Cluster] | None = None,
        *,
        threshold: float = MERGE_THRESHOLD,
        settle_after: int = SETTLE_AFTER,
        next_pattern_key: int = -1,
    ) -> None:
        self.clusters: list[Cluster] = list(clusters or ())
        for cluster in self.clusters:
            cluster.changed = False
        self.threshold = threshold
        self.settle_after = settle_after
        self._next_pattern = next_pattern_key  # new patterns get negative keys until stored

    def _candidates(self, prompt: Prompt) -> list[Cluster]:
        roles = prompt.roles
        anchor = anchor_of(prompt.masked)
        same_shape = [c for c in self.clusters if c.roles == roles]
        return sorted(same_shape, key=lambda c: (c.anchor not in (anchor, "*"), -c.size))

    def add(self, prompt: Prompt) -> Outcome:
        candidates = self._candidates(prompt)
        for cluster in candidates:
            if cluster.matches(prompt):
                cluster.size += 1
                cluster.changed = True
                return Outcome(cluster)
        tokens = list(prompt.masked)
        best: tuple[float, Cluster, list[str]] | None = None
        prompt_words = set(tokens)
        for cluster in candidates:
            if len(prompt_words.intersection(cluster.tokens)) < 2:
                continue
            user_score, system_score, merged = merge(cluster.tokens, tokens)
            good = user_score >= self.threshold and system_score >= 0.5
            if good and (best is None or user_score > best[0]):
                best = (user_score, cluster, merged)
        if best is None:
            return self._new_pattern(tokens)
        _, cluster, merged = best
        if cluster.size >= self.settle_after:
            return self._new_version(cluster, tokens)
        cluster.replace(merged)
        cluster.size += 1
        cluster.changed = True
        return Outcome(cluster)

    def _new_pattern(self, tokens: list[str]) -> Outcome:
        cluster = Cluster(tokens=tokens, pattern_key=self._next_pattern, size=1)
        self._next_pattern -= 1
        self.clusters.append(cluster)
        return Outcome(cluster, created_pattern=True)

    def _new_version(self, settled: Cluster, tokens: list[str]) -> Outcome:
        siblings = [c for c in self.clusters if c.pattern_key == settled.pattern_key]
        for sibling in siblings:
            if sibling.size < self.settle_after:
                user_score, system_score, merged = merge(sibling.tokens, tokens)
                if user_score >= self.threshold and system_score >= 0.5:
                    sibling.replace(merged)
                    sibling.size += 1
                    sibling.changed = True
                    return Outcome(sibling)
        version = max(c.version for c in siblings) + 1
        cluster = Cluster(tokens=tokens, pattern_key=settled.pattern_key, version=version, size=1)
        self.clusters.append(cluster)
        return Outcome(cluster, created_version=True)
