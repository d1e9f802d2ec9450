"""Prompt templates: tokens, masking, and matching. Pure Python, no Django.

A prompt (the system and user messages of a request) becomes a sequence of
tokens; each token keeps its raw text and a *masked* form in which data is
replaced by a typed placeholder: `<NUM>`, `<ID>`, `<DATE>`, `<TIME>`, `<URL>`,
`<EMAIL>`, `<UUID>`, `<CODE>` (a fenced block) and `<TEXT>` (long free text).
Role markers (`§system`, `§user`) keep the structure of the conversation.

A template is a sequence of masked tokens in which `<*>` is a gap that matches
any number of tokens (zero included). It compiles to one anchored regular
expression over the masked prompt, so matching costs one C-level regex search.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SLOT = "<*>"
MAX_TOKENS = 256  # tokens past this are dropped (the template is in the head)
MAX_MESSAGE_CHARS = 20_000  # so is the rest of a very long message
LONG_LINE_WORDS = 30  # a user line longer than this is free text
AFTER_COLON_WORDS = 6  # "Label: long value" -> "Label: <TEXT>"
QUOTED_WORDS = 4  # "a quoted passage of several words" -> <TEXT>
ROLE_MARK = "§"
PROMPT_ROLES = {"system": "system", "developer": "system", "user": "user"}

_CODE_FENCE = re.compile(r"```.*?(?:```|$)", re.S)
_QUOTED = re.compile(r"\"([^\"\n]{8,})\"")
_STRIP = ".,;:!?()[]{}<>\"'`*"
TOKEN_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?:https?|ftp)://\S+|www\.\S+", re.I), "<URL>"),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "<EMAIL>"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I), "<UUID>"),
    (re.compile(r"\d{4}-\d{1,2}-\d{1,2}(?:[T ]\S*)?|\d{1,2}/\d{1,2}/\d{2,4}"), "<DATE>"),
    (re.compile(r"\d{1,2}:\d{2}(?::\d{2})?(?:[ap]m)?", re.I), "<TIME>"),
    (re.compile(r"[$€£]?[-+]?\d[\d,_]*(?:\.\d+)?%?[kKmMbB]?"), "<NUM>"),
    (re.compile(r"(?=\S*\d)(?=\S*[A-Za-z])[\w-]{4,}|0x[0-9a-fA-F]+|[0-9a-fA-F]{12,}"), "<ID>"),
)
MASKS = frozenset({"<URL>", "<EMAIL>", "<UUID>", "<DATE>", "<TIME>", "<NUM>", "<ID>"}) | {
    "<CODE>",
    "<TEXT>",
}


@dataclass(slots=True)
class Prompt:
    """A prompt as tokens: `masked[i]` is the masked form of `raw[i]`."""

    raw: list[str] = field(default_factory=list)
    masked: list[str] = field(default_factory=list)

    def add(self, raw: str, masked: str) -> bool:
        if len(self.masked) >= MAX_TOKENS:
            return False
        self.raw.append(raw)
        self.masked.append(masked)
        return True

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(t for t in self.masked if t.startswith(ROLE_MARK))

    def joined(self) -> str:
        """The masked tokens, each preceded by one space: what templates match."""
        return "".join(" " + t for t in self.masked)

    def text(self) -> str:
        return " ".join(self.masked)


def mask_token(token: str) -> str:
    core = token.strip(_STRIP)
    if not core:
        return token
    for pattern, mask in TOKEN_MASKS:
        if pattern.fullmatch(core):
            return mask
    return token


def content_text(content: Any) -> str:
    """The text of an OpenAI or Anthropic message content (a string or parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type", "text") == "text"
        )
    return ""


def prompt_messages(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(role, text) of the system and user messages of a chat body, in order."""
    out: list[tuple[str, str]] = []
    system = body.get("system")  # Anthropic
    if system:
        out.append(("system", content_text(system)))
    for message in body.get("messages") or ():
        if not isinstance(message, dict):
            continue
        role = PROMPT_ROLES.get(str(message.get("role")))
        if role:
            out.append((role, content_text(message.get("content"))))
    return out


def _add_words(prompt: Prompt, text: str) -> bool:
    return all(prompt.add(word, mask_token(word)) for word in text.split())


def _add_line(prompt: Prompt, line: str, free_text: bool) -> bool:
    words = line.split()
    if not words:
        return True
    if free_text:
        colon = line.find(": ")
        head_words = len(line[:colon].split()) if colon >= 0 else 0
        if colon >= 0 and head_words <= 12:
            rest = line[colon + 2 :]
            if len(rest.split()) >= AFTER_COLON_WORDS:
                return _add_words(prompt, line[: colon + 1]) and prompt.add(rest, "<TEXT>")
        if len(words) > LONG_LINE_WORDS:
            return prompt.add(line, "<TEXT>")
    return _add_words(prompt, line)


def _add_message(prompt: Prompt, role: str, text: str) -> bool:
    if not prompt.add(ROLE_MARK + role, ROLE_MARK + role):
        return False
    free_text = role == "user"
    text = text[:MAX_MESSAGE_CHARS]
    position = 0
    for fence in _CODE_FENCE.finditer(text):
        if not _add_block(prompt, text[position : fence.start()], free_text):
            return False
        if not prompt.add(fence.group(0), "<CODE>"):
            return False
        position = fence.end()
    return _add_block(prompt, text[position:], free_text)


def _add_block(prompt: Prompt, block: str, free_text: bool) -> bool:
    if free_text and '"' in block:
        parts = []
        position = 0
        for quoted in _QUOTED.finditer(block):
            if len(quoted.group(1).split()) >= QUOTED_WORDS:
                parts.append((block[position : quoted.start()], False))
                parts.append((quoted.group(0), True))
                position = quoted.end()
        parts.append((block[position:], False))
    else:
        parts = [(block, False)]
    for piece, is_quote in parts:
        if is_quote:
            if not prompt.add(piece, "<TEXT>"):
                return False
            continue
        for line in piece.split("\n"):
            if not _add_line(prompt, line, free_text):
                return False
    return True


def tokenize_messages(messages: Iterable[tuple[str, str]]) -> Prompt:
    prompt = Prompt()
    for role, text in messages:
        if not _add_message(prompt, role, text):
            break
    return prompt


def tokenize_body(body: dict[str, Any]) -> Prompt:
    return tokenize_messages(prompt_messages(body))


def tokenize_text(text: str) -> Prompt:
    """A bare text as the single user message of a prompt (the `classify` command)."""
    return tokenize_messages([("user", text)])


# --- templates --------------------------------------------------------------------


def template_regex(tokens: list[str] | tuple[str, ...]) -> re.Pattern[str]:
    """An anchored regex over `Prompt.joined()`; linear time whatever the prompt.

    A gap takes tokens up to the first occurrence of the constant run that
    follows it (up to the next gap; the last run must end the prompt),
    possessively, without backtracking: a crafted prompt cannot make matching
    explode, at the price of missing a match that would need a gap to run past
    an earlier occurrence of its whole following run.
    """
    parts = ["^"]
    for position, token in enumerate(tokens):
        if token != SLOT:
            parts.append(re.escape(" " + token))
            continue
        run: list[str] = []
        for following in tokens[position + 1 :]:
            if following == SLOT:
                break
            run.append(following)
        if not run:
            parts.append(r"((?: \S+)*+)")
            continue
        stop = re.escape("".join(" " + t for t in run))
        ends = position + 1 + len(run) == len(tokens)
        parts.append(rf"((?:(?!{stop}{'$' if ends else '(?: |$)'}) \S+)*+)")
    parts.append("$")
    return re.compile("".join(parts), re.S)


def template_text(tokens: list[str] | tuple[str, ...]) -> str:
    """Readable form: role markers start lines."""
    out: list[str] = []
    for token in tokens:
        if token.startswith(ROLE_MARK):
            out.append(("\n" if out else "") + f"[{token[1:]}]")
        else:
            out.append(token)
    return " ".join(out).replace(" \n", "\n")


def template_variables(tokens: list[str] | tuple[str, ...]) -> list[dict[str, str]]:
    """The variable parts of a template, in order: gaps and masked data."""
    variables: list[dict[str, str]] = []
    for token in tokens:
        if token == SLOT or token in MASKS:
            kind = "text" if token in (SLOT, "<TEXT>") else token.strip("<>").lower()
            variables.append({"name": f"var{len(variables) + 1}", "kind": kind})
    return variables


def anchor_of(tokens: list[str] | tuple[str, ...]) -> str:
    """The first three tokens of the first user message: the template's index key.

    A gap among them makes the anchor "*": such templates are tried for every prompt.
    """
    try:
        start = tokens.index(ROLE_MARK + "user") + 1
    except ValueError:
        start = 0
    head = list(tokens[start : start + 3])
    if SLOT in head or len(head) < 1:
        return "*"
    return " ".join(head)


@dataclass(slots=True)
class Match:
    template_id: int
    pattern_id: int
    version: int
    prompt: Prompt
    spans: tuple[tuple[int, int], ...]
    tokens: tuple[str, ...]

    def variables(self) -> list[str]:
        """The raw text filling each variable of the template (gaps and masked data)."""
        joined_offsets = []
        position = 0
        for token in self.prompt.masked:
            joined_offsets.append(position)
            position += len(token) + 1
        values: list[str] = []
        gaps = iter(self.spans)
        cursor = 0  # index into prompt tokens
        for token in self.tokens:
            if token == SLOT:
                start, end = next(gaps)
                first = bisect.bisect_left(joined_offsets, start)
                last = bisect.bisect_left(joined_offsets, end)
                values.append(" ".join(self.prompt.raw[first:last]))
                cursor = last
            else:
                if token in MASKS and cursor < len(self.prompt.raw):
                    values.append(self.prompt.raw[cursor])
                cursor += 1
        return values


@dataclass(slots=True)
class CompiledTemplate:
    template_id: int
    pattern_id: int
    version: int
    namespace_id: int | None
    tokens: tuple[str, ...]
    regex: re.Pattern[str]
    anchor: str
    support: int = 0


class TemplateIndex:
    """The templates of every namespace, indexed by anchor; immutable once built."""

    def __init__(self, templates: Iterable[CompiledTemplate] = ()) -> None:
        self._buckets: dict[tuple[int | None, str], list[CompiledTemplate]] = {}
        for template in sorted(templates, key=lambda t: -t.support):
            self._buckets.setdefault((template.namespace_id, template.anchor), []).append(template)
        self.size = sum(len(b) for b in self._buckets.values())

    @staticmethod
    def compile(
        *,
        template_id: int,
        pattern_id: int,
        version: int,
        namespace_id: int | None,
        tokens: Iterable[str],
        support: int = 0,
    ) -> CompiledTemplate:
        tokens = tuple(tokens)
        return CompiledTemplate(
            template_id=template_id,
            pattern_id=pattern_id,
            version=version,
            namespace_id=namespace_id,
            tokens=tokens,
            regex=template_regex(tokens),
            anchor=anchor_of(tokens),
            support=support,
        )

    def match(self, namespace_id: int | None, prompt: Prompt) -> Match | None:
        if not self.size or not prompt.masked:
            return None
        joined = prompt.joined()
        anchor = anchor_of(prompt.masked)
        for key in ((namespace_id, anchor), (namespace_id, "*")):
            for template in self._buckets.get(key, ()):
                found = template.regex.match(joined)
                if found is not None:
                    return Match(
                        template_id=template.template_id,
                        pattern_id=template.pattern_id,
                        version=template.version,
                        prompt=prompt,
                        spans=tuple(found.span(i) for i in range(1, found.re.groups + 1)),
                        tokens=template.tokens,
                    )
        return None
