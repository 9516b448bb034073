"""YAML documents as plain Python values that remember the line of every key and item.

PyYAML's composer gives nodes with their marks; `documents` turns each into
`YMap`/`YList`/scalars, keeping the lines.  Nothing is parsed by hand.  Bad
YAML, aliases that expand without end and documents too deep stop the input
with a `YamlProblem` naming the line; the documents before it stay read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

__all__ = ["MAX_NODES", "YList", "YMap", "YamlProblem", "documents", "parse_embedded"]

MAX_NODES = 2_000_000
"""Values one input may expand to (aliases of aliases can grow without end)."""
MAX_DEPTH = 200

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _Loader = yaml.SafeLoader

_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_NULL = "tag:yaml.org,2002:null"


class YamlProblem(Exception):
    """Input that is not usable YAML; ``line`` is 1-based (``None``: the whole input)."""

    def __init__(self, message: str, line: int | None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column

    @property
    def position(self) -> str | None:
        if self.line is None:
            return None
        return f"{self.line}:{self.column}" if self.column else str(self.line)


class YMap(dict):  # type: ignore[type-arg]
    """A mapping; ``lines[key]`` is the line of the key, ``scalars[key]`` the start line and
    style of a scalar value (for YAML written inside a string)."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.lines: dict[Any, int] = {}
        self.scalars: dict[Any, tuple[int, str | None]] = {}

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


class YList(list):  # type: ignore[type-arg]
    """A sequence; ``lines[i]`` is the line of item ``i``."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.lines: list[int] = []


class _Builder:
    def __init__(self, offset: int) -> None:
        self.offset = offset  # lines before the text (YAML written inside a string)
        self.count = 0
        self.active: set[int] = set()
        self.constructor = yaml.constructor.SafeConstructor()

    def line(self, node: yaml.Node) -> int:
        return int(node.start_mark.line) + 1 + self.offset

    def build(self, node: yaml.Node, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise YamlProblem(
                f"more than {MAX_NODES:,} values (aliases expanding without end?)", self.line(node)
            )
        if depth > MAX_DEPTH:
            raise YamlProblem(f"nested more than {MAX_DEPTH} levels deep", self.line(node))
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if id(node) in self.active:
            raise YamlProblem("an alias refers to a value that contains it", self.line(node))
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                items = YList(self.line(node))
                for item in node.value:
                    items.lines.append(self.line(item))
                    items.append(self.build(item, depth + 1))
                return items
            return self.mapping(node, depth)
        finally:
            self.active.discard(id(node))

    def mapping(self, node: yaml.MappingNode, depth: int) -> YMap:
        found = YMap(self.line(node))
        merged: list[YMap] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                value = self.build(value_node, depth + 1)
                merged.extend(
                    v
                    for v in (value if isinstance(value, list) else [value])
                    if isinstance(v, YMap)
                )
                continue
            key = self.build(key_node, depth + 1)
            if isinstance(key, (dict, list)):
                key = str(key)  # a complex key: kept, as text
            found[key] = self.build(value_node, depth + 1)
            found.lines[key] = self.line(key_node)
            if isinstance(value_node, yaml.ScalarNode):
                found.scalars[key] = (self.line(value_node), value_node.style)
        for extra in merged:  # `<<: *base`: keys written here win
            for key, value in extra.items():
                if key not in found:
                    found[key] = value
                    found.lines[key] = extra.line_of(key)
        return found

    def scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag == _STR:
            return node.value
        try:
            value = self.constructor.construct_object(node)
        except (yaml.YAMLError, ValueError, TypeError):
            return node.value
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        return node.value  # timestamps, binary: their text


def documents(text: str, *, offset: int = 0) -> Iterator[tuple[int, Any]]:
    """``(line, value)`` of each document of ``text``; `YamlProblem` at the first bad one."""
    builder = _Builder(offset)
    try:
        for node in yaml.compose_all(text, Loader=_Loader):
            if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL):
                continue  # an empty document (a trailing `---`)
            yield builder.line(node), builder.build(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        if mark is None:
            raise YamlProblem(f"not valid YAML: {what}", None) from None
        raise YamlProblem(
            f"not valid YAML: {what}", int(mark.line) + 1 + offset, int(mark.column) + 1
        ) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(f"not valid YAML: {exc}", None) from None
    except RecursionError:
        raise YamlProblem(f"nested more than {MAX_DEPTH} levels deep", None) from None


def parse_embedded(text: str, line: int, style: str | None) -> Any:
    """The one document of YAML written inside a string value (Istio's ``mesh``, the
    ``proxy.istio.io/config`` annotation), its lines those of the file: a block
    scalar (``|``) starts on the line after ``line``; other styles are kept on ``line``."""
    block = style in ("|", ">")
    offset = line if block else line - 1
    found = None
    for _at, value in documents(text, offset=offset):
        found = value
        break
    if not block and found is not None:
        _flatten_lines(found, line)
    return found


def _flatten_lines(value: Any, line: int) -> None:
    """A value written on one line (a quoted string, JSON): every key is on that line."""
    if isinstance(value, YMap):
        value.line = line
        for key in value.lines:
            value.lines[key] = line
        for key, (_at, style) in value.scalars.items():
            value.scalars[key] = (line, style)
        for item in value.values():
            _flatten_lines(item, line)
    elif isinstance(value, YList):
        value.line = line
        value.lines = [line] * len(value.lines)
        for item in value:
            _flatten_lines(item, line)
