"""The Kubernetes JSONPath dialect used by CRD printer columns and `kubectl -o jsonpath`.

Supported: `$` and a leading `.` (both optional), `.field` (a dotted name ends at any of
`. [ ] ( ) { } = ! < >` or a space; `\\.` escapes a dot),
`.*`, `['key']` / `["key"]` (the key is taken literally, so `['kubevirt.io/nodeName']` is one
key), `[n]` and negative `[-n]`, `[*]`, slices `[a:b]` / `[a:b:step]`, unions `[0,2]` /
`['a','b']`, recursive descent `..field` / `..*` / `..[n]`, and filters `[?(@.type=='Ready')]`
with `== != < > <= >=` against string, number, boolean and null literals or other `@` paths,
plus `[?(@.x)]` (the field exists). One `{...}` around the whole expression is accepted.

Differences from client-go's evaluator, all on the lenient side: out-of-range indexes and slices
select nothing instead of failing, comparisons between values of different types are false
instead of an error, and map members are visited in document order.

Invariants: pure; compiled paths are immutable; `compile_path` fails only with `JsonPathError`;
`find` never raises and never mutates the object. Cell formatting lives in `printer_cells`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from virt_local.apiserver.printer_cells import format_printer_value

__all__ = ["CompiledPath", "JsonPathError", "compile_path", "format_printer_value"]

Step = Callable[[list[Any]], list[Any]]

_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
_SLICE = re.compile(r"\s*(-?\d*)\s*(?::\s*(-?\d*)\s*)?(?::\s*(-?\d*)\s*)?")
_FILTER_OPS = ("==", "!=", "<=", ">=", "<", ">")
_FIELD_END = frozenset(".[]() \t\n{}=!<>")


class JsonPathError(ValueError):
    """A JSONPath expression could not be parsed; `message` says where and why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class CompiledPath:
    """A parsed expression; `find(obj)` returns every value it selects, in order."""

    expression: str
    steps: tuple[Step, ...]

    def find(self, obj: Any) -> list[Any]:
        values = [obj]
        for step in self.steps:
            values = step(values)
        return values


def compile_path(expr: str) -> CompiledPath:
    """Parse a JSONPath expression; raise `JsonPathError` if it is not valid."""
    text = expr.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if not text:
        raise JsonPathError(f"invalid JSONPath {expr!r}: the expression is empty")
    try:
        return CompiledPath(expr, tuple(_Parser(text).steps()))
    except JsonPathError as err:
        raise JsonPathError(f"invalid JSONPath {expr!r}: {err.message}") from None


# --------------------------------------------------------------------------------- steps


def _field(name: str) -> Step:
    return lambda values: [v[name] for v in values if isinstance(v, dict) and name in v]


def _wildcard(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if isinstance(v, dict):
            out.extend(v.values())
        elif isinstance(v, list):
            out.extend(v)
    return out


def _descendants(value: Any) -> Iterator[Any]:
    yield value
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        yield from _descendants(child)


def _recursive(then: Step) -> Step:
    return lambda values: then([d for v in values for d in _descendants(v)])


def _index(i: int) -> Step:
    return lambda values: [v[i] for v in values if isinstance(v, list) and -len(v) <= i < len(v)]


def _slice(start: int | None, stop: int | None, step: int | None) -> Step:
    return lambda values: [x for v in values if isinstance(v, list) for x in v[start:stop:step]]


def _union(parts: list[Step]) -> Step:
    return lambda values: [x for v in values for part in parts for x in part([v])]


def _compare(left: Any, op: str, right: Any) -> bool:
    """Compare two JSON values; values of different types are only ever unequal."""
    both_numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
    if not both_numbers and type(left) is not type(right):
        return op == "!="
    if op in ("==", "!="):
        return (left == right) is (op == "==")
    if not (both_numbers or isinstance(left, str)):
        return False
    if op == "<":
        return bool(left < right)
    if op == ">":
        return bool(left > right)
    if op == "<=":
        return bool(left <= right)
    return bool(left >= right)


Operand = Callable[[Any], list[Any]]


def _filter(left: Operand, op: str | None, right: Operand | None) -> Step:
    def keep(item: Any) -> bool:
        lefts = left(item)
        if op is None or right is None:
            return bool(lefts)
        rights = right(item)
        return len(lefts) == 1 and len(rights) == 1 and _compare(lefts[0], op, rights[0])

    def step(values: list[Any]) -> list[Any]:
        out: list[Any] = []
        for v in values:
            items = v if isinstance(v, list) else list(v.values()) if isinstance(v, dict) else []
            out.extend(item for item in items if keep(item))
        return out

    return step


# -------------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, what: str) -> JsonPathError:
        return JsonPathError(f"{what} at position {self.pos}")

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def steps(self) -> list[Step]:
        steps: list[Step] = []
        if self.peek() == "$":
            self.pos += 1
        elif self.peek() not in (".", "[", ""):
            steps.append(self.dotted())  # a leading "." may be left out
        while self.pos < len(self.text):
            if self.peek(2) == "..":
                self.pos += 2
                nxt = self.bracket() if self.peek() == "[" else self.dotted()
                steps.append(_recursive(nxt))
            elif self.peek() == ".":
                self.pos += 1
                steps.append(self.dotted())
            elif self.peek() == "[":
                steps.append(self.bracket())
            else:
                raise self.error(f"unexpected {self.peek()!r}")
        return steps

    def dotted(self) -> Step:
        if self.peek() == "*":
            self.pos += 1
            return _wildcard
        name: list[str] = []
        while self.pos < len(self.text) and self.text[self.pos] not in _FIELD_END:
            if self.text[self.pos] == "\\" and self.pos + 1 < len(self.text):
                self.pos += 1
            name.append(self.text[self.pos])
            self.pos += 1
        if not name:
            raise self.error("expected a field name")
        return _field("".join(name))

    def bracket(self) -> Step:
        self.pos += 1  # "["
        if self.peek(2) == "?(":
            self.pos += 2
            step = self.filter()
        else:
            parts = [self.bracket_part()]
            while self.peek() == ",":
                self.pos += 1
                parts.append(self.bracket_part())
            step = parts[0] if len(parts) == 1 else _union(parts)
        self.skip_space()
        if self.peek() != "]":
            raise self.error("expected ']'")
        self.pos += 1
        return step

    def skip_space(self) -> None:
        while self.peek().isspace() and self.peek():
            self.pos += 1

    def bracket_part(self) -> Step:
        self.skip_space()
        if self.peek() in ("'", '"'):
            return _field(self.quoted())
        if self.peek() == "*":
            self.pos += 1
            return _wildcard
        match = _SLICE.match(self.text, self.pos)
        if match is None or match.end() == self.pos:
            raise self.error("expected an index, a slice, a quoted key or '*'")
        self.pos = match.end()
        start, stop, step = match.groups()
        if any(part in ("-", "+") for part in (start, stop, step)):
            raise self.error("expected a number after the sign")
        if stop is None and step is None and ":" not in match.group(0):
            if not start:
                raise self.error("expected an index")
            return _index(int(start))
        if step is not None and step and int(step) <= 0:
            raise self.error("step must be > 0")
        return _slice(int(start) if start else None, int(stop) if stop else None, int(step) if step else None)

    def quoted(self) -> str:
        quote = self.peek()
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text) and self.text[self.pos] != quote:
            if self.text[self.pos] == "\\" and self.pos + 1 < len(self.text):
                self.pos += 1
            out.append(self.text[self.pos])
            self.pos += 1
        if self.pos >= len(self.text):
            raise self.error("unterminated quoted string")
        self.pos += 1
        return "".join(out)

    def filter(self) -> Step:
        left = self.operand()
        self.skip_space()
        op = next((o for o in _FILTER_OPS if self.text.startswith(o, self.pos)), None)
        if op is None:
            right = None
        else:
            self.pos += len(op)
            right = self.operand()
            self.skip_space()
        if self.peek() != ")":
            raise self.error("expected ')' to close the filter")
        self.pos += 1
        return _filter(left, op, right)

    def operand(self) -> Operand:
        self.skip_space()
        if self.peek() == "@":
            self.pos += 1
            steps: list[Step] = []
            while self.peek() in (".", "["):
                if self.peek() == ".":
                    self.pos += 1
                    steps.append(self.dotted())
                else:
                    steps.append(self.bracket())
            path = CompiledPath("@", tuple(steps))
            return path.find
        if self.peek() in ("'", '"'):
            literal: Any = self.quoted()
        else:
            match = re.compile(r"true|false|null|nil|" + _NUMBER.pattern).match(self.text, self.pos)
            if match is None:
                raise self.error("expected '@', a quoted string, a number, true, false or null")
            self.pos = match.end()
            word = match.group(0)
            literal = {"true": True, "false": False, "null": None, "nil": None}.get(word, word)
            if isinstance(literal, str):
                literal = float(word) if any(c in word for c in ".eE") else int(word)
        return lambda _item: [literal]
