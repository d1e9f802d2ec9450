"""Rule operations: what a rule does to a request body. A registry of small classes.

    {"op": "system_prepend", "text": "..."}      put text before the system prompt
    {"op": "system_append",  "text": "..."}      put text after it
    {"op": "system_replace", "text": "..."}      replace it
    {"op": "template_rewrite", "text": "Summarise {var1} in {var2} words."}
        replace the last user message; `{varN}` is the pattern's N-th variable
        (the request must match a pattern with that many variables, else no-op)
    {"op": "set_param",   "param": "temperature", "value": 0.2}
    {"op": "clamp_param", "param": "max_tokens", "min": 16, "max": 1024}
    {"op": "route_model", "model": "gpt-4o-mini"}     serve with another model or route
    {"op": "add_stop",    "sequences": ["\\n\\nUser:"]}
    {"op": "few_shot",    "examples": [{"user": "...", "assistant": "..."}]}

`apply(body, context)` edits the body in place and returns whether it changed
anything; the dialect says where the format keeps the system prompt and stops.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from intelligence.rules.conditions import RuleError
from intelligence.rules.dialects import Dialect

PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "top_k",
        "max_tokens",
        "max_completion_tokens",
        "presence_penalty",
        "frequency_penalty",
        "seed",
        "n",
        "reasoning_effort",
    }
)
VARIABLE = re.compile(r"\{var(\d+)\}")
MAX_TEXT = 20_000


@dataclass(slots=True)
class OpContext:
    dialect: Dialect
    variables: Callable[[], list[str] | None] = lambda: None
    model: str = ""  # set by route_model


def _text(spec: dict[str, Any], name: str = "text") -> str:
    value = spec.get(name)
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"operation `{spec.get('op')}` needs a non-empty `{name}`")
    if len(value) > MAX_TEXT:
        raise RuleError(f"operation `{spec.get('op')}`: `{name}` is over {MAX_TEXT} characters")
    return value


def _param(spec: dict[str, Any]) -> str:
    param = spec.get("param")
    if param not in PARAMS:
        raise RuleError(f"`param` must be one of: {', '.join(sorted(PARAMS))}")
    return str(param)


@dataclass(frozen=True, slots=True)
class SystemPrepend:
    text: str
    name: ClassVar[str] = "system_prepend"

    def apply(self, body: dict[str, Any], ctx: OpContext) -> bool:
        current = ctx.dialect.get_system(body)
        ctx.dialect.set_system(body, f"{self.text}\n\n{current}" if current else self.text)
        return True


@dataclass(frozen=True, slots=True)
class SystemAppend:
    text: str
    name: ClassVar[str] = "system_append"

    def apply(self, body: dict[str, Any], ctx: OpContext) -> bool:
        current = ctx.dialect.get_system(body)
        ctx.dialect.set_system(body, f"{current}\n\n{self.text}" if current else self.text)
        return True


@dataclass(frozen=True, slots=True)
class SystemReplace:
    text: str
    name: ClassVar[str] = "system_replace"

    def apply(self, body: dict[str, Any], ctx: OpContext) -> bool:
        ctx.dialect.set_system(body, self.text)
        return True


@dataclass(frozen=True, slots=True)
class TemplateRewrite:
    text: str
    needs: int
    name: ClassVar[str] = "template_rewrite"

    def apply(self, body: dict[str, Any], ctx: OpContext) -> bool:
        values = ctx.variables()
        if values is None or len(values) < self.needs:
            return False
        messages = body.get("messages") or []
        for index in range(len(messages) - 1, -1, -1):
            message = messages[index]
            if isinstance(message, dict) and message.get("role") == "user":
                text = VARIABLE.sub(lambda m: values[int(m.group(1)) - 1], self.text)
                messages[index] = {**message, "content": text}
                return True
        return False


@dataclass(frozen=True, slots=True)
class SetParam:
    param: str
    value: Any
    name: ClassVar[str] = "set_param"

    def apply(self, body: dict[str, Any], ctx: OpContext) -> bool:
        if self.param not in ctx.dialect.params or body.get(self.param) == self.value:
            return False
        body[self.param] = self.value
        return True


@dataclass(frozen=True, slots=True)
class ClampParam:
    param: str
    low: float | None
    high: float | None
    name: ClassVar[str] = "clamp_param"

    def apply(self, body: dict[str, Any], ctx: OpContext) -> bool:
        if self.param not in ctx.dialect.params:
            return False
        value = body.get(self.param)
        if not isinstance(value, int | float) or isinstance(value, bool):
            if self.high is None or self.param not in ("max_tokens", "max_completion_tokens"):
                return False
            value = None  # no limit given: the clamp's maximum becomes the limit
        clamped = value
        if clamped is None or (self.high is not None and clamped > self.high):
            clamped = self.high
        if clamped is not None and self.low is not None and clamped < self.low:
            clamped = self.low
        if clamped == value:
            return False
        if isinstance(clamped, float) and clamped.is_integer() and "tokens" in self.param:
            clamped = int(clamped)
        body[self.param] = clamped
        return True


@dataclass(frozen=True, slots=True)
class RouteModel:
    model: str
    name: ClassVar[str] = "route_model"

    def apply(self, body: dict[str, Any], ctx: OpContext) -> bool:
        if body.get("model") == self.model:
            return False
        body["model"] = self.model
        ctx.model = self.model
        return True


@dataclass(frozen=True, slots=True)
class AddStop:
    sequences: tuple[str, ...]
    name: ClassVar[str] = "add_stop"

    def apply(self, body: dict[str, Any], ctx: OpContext) -> bool:
        key = ctx.dialect.stop_param
        current = body.get(key)
        stops = [current] if isinstance(current, str) else list(current or [])
        added = [s for s in self.sequences if s not in stops]
        room = ctx.dialect.max_stops - len(stops)
        if not added or room <= 0:
            return False
        body[key] = stops + added[:room]
        return True


@dataclass(frozen=True, slots=True)
class FewShot:
    turns: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    name: ClassVar[str] = "few_shot"

    def apply(self, body: dict[str, Any], ctx: OpContext) -> bool:
        messages = list(body.get("messages") or [])
        at = ctx.dialect.first_turn_index(body)
        shots = [
            {"role": role, "content": text}
            for user, assistant in self.turns
            for role, text in (("user", user), ("assistant", assistant))
        ]
        body["messages"] = messages[:at] + shots + messages[at:]
        return True


def _number(spec: dict[str, Any], name: str) -> float | None:
    value = spec.get(name)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise RuleError(f"clamp_param: `{name}` must be a number")
    return value


def _template(spec: dict[str, Any]) -> TemplateRewrite:
    text = _text(spec)
    numbers = [int(n) for n in VARIABLE.findall(text)]
    if any(n < 1 for n in numbers):
        raise RuleError("template_rewrite: variables are numbered from {var1}")
    return TemplateRewrite(text=text, needs=max(numbers, default=0))


def _clamp(spec: dict[str, Any]) -> ClampParam:
    low, high = _number(spec, "min"), _number(spec, "max")
    if low is None and high is None:
        raise RuleError("clamp_param needs `min`, `max` or both")
    if low is not None and high is not None and low > high:
        raise RuleError("clamp_param: `min` is above `max`")
    return ClampParam(param=_param(spec), low=low, high=high)


def _set(spec: dict[str, Any]) -> SetParam:
    if "value" not in spec or isinstance(spec["value"], dict | list):
        raise RuleError("set_param needs a scalar `value`")
    return SetParam(param=_param(spec), value=spec["value"])


def _stops(spec: dict[str, Any]) -> AddStop:
    sequences = spec.get("sequences")
    if isinstance(sequences, str):
        sequences = [sequences]
    if not sequences or not all(isinstance(s, str) and s for s in sequences):
        raise RuleError("add_stop needs `sequences`: a list of non-empty strings")
    return AddStop(sequences=tuple(sequences))


def _few_shot(spec: dict[str, Any]) -> FewShot:
    examples = spec.get("examples")
    if not isinstance(examples, list) or not examples:
        raise RuleError("few_shot needs `examples`: a list of {user, assistant}")
    turns = []
    for example in examples:
        if not isinstance(example, dict) or not all(
            isinstance(example.get(k), str) and example[k] for k in ("user", "assistant")
        ):
            raise RuleError("each few_shot example needs `user` and `assistant` text")
        turns.append((example["user"], example["assistant"]))
    return FewShot(turns=tuple(turns))


def _route(spec: dict[str, Any]) -> RouteModel:
    return RouteModel(model=_text(spec, "model"))


Operation = (
    SystemPrepend
    | SystemAppend
    | SystemReplace
    | TemplateRewrite
    | SetParam
    | ClampParam
    | RouteModel
    | AddStop
    | FewShot
)
COMPILERS: dict[str, Callable[[dict[str, Any]], Operation]] = {
    "system_prepend": lambda s: SystemPrepend(_text(s)),
    "system_append": lambda s: SystemAppend(_text(s)),
    "system_replace": lambda s: SystemReplace(_text(s)),
    "template_rewrite": _template,
    "set_param": _set,
    "clamp_param": _clamp,
    "route_model": _route,
    "add_stop": _stops,
    "few_shot": _few_shot,
}


def compile_operations(spec: Any, *, allow_empty: bool = False) -> tuple[Operation, ...]:
    if not isinstance(spec, list) or (not spec and not allow_empty):
        raise RuleError("operations must be a non-empty JSON list")
    compiled = []
    for index, item in enumerate(spec):
        if not isinstance(item, dict) or item.get("op") not in COMPILERS:
            raise RuleError(
                f"operation {index + 1}: `op` must be one of {', '.join(sorted(COMPILERS))}"
            )
        compiled.append(COMPILERS[item["op"]](item))
    return tuple(compiled)
