"""Reading a config file: YAML parsed, checked against the schema, every error with
its line and field, before anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from proxy.services.config_file.schema import ConfigFile


class ConfigFileError(Exception):
    """The file cannot be applied; `problems` lists each one as `file:line: field: message`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(file)"


def line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the YAML node at `loc`, or of its nearest parent that exists."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((value for key, value in node.value if key.value == part), None)
            if child is None:  # an unknown field: point at its key
                key_node = next((key for key, _ in node.value if key.value == part), None)
                return key_node.start_mark.line + 1 if key_node else line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if part < len(node.value) else None
        if child is None:
            return line
        node, line = child, child.start_mark.line + 1
    return line


@dataclass(frozen=True)
class LoadedConfig:
    config: ConfigFile
    source: str
    node: yaml.Node | None

    def where(self, loc: tuple[int | str, ...]) -> str:
        """`file:line: field` for an error about the value at `loc`."""
        line = line_of(self.node, loc)
        return (
            f"{self.source}:{line}: {field_path(loc)}"
            if line
            else f"{self.source}: {field_path(loc)}"
        )


def parse(text: str, source: str = "<config>") -> LoadedConfig:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc).replace("\n", " ")
        raise ConfigFileError([f"{where}: not valid YAML: {problem}"]) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigFileError([f"{source}:1: the file must be a mapping (providers, routes, ...)"])
    try:
        return LoadedConfig(ConfigFile.model_validate(data), source, node)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            line = line_of(node, loc)
            where = f"{source}:{line}" if line else source
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {field_path(loc)}: {message}")
        raise ConfigFileError(problems) from exc


def read(path: str | Path) -> LoadedConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError([f"{path}: cannot read the file: {exc.strerror}"]) from exc
    return parse(text, str(path))
