"""JSON values built from a parser's events, one conversation at a time, with nesting bounded.

The importer reads files far larger than memory should hold as a list of conversations: a
streaming parser (ijson's ``basic_parse``) gives events such as ``("start_map", None)``,
``("map_key", "title")``, ``("string", "Hi")``; ``JsonItems`` turns them into one value per
list element, so only one conversation is in memory at once. Nesting deeper than
``MAX_NESTING`` is refused while reading: no real conversation needs it, and building (or
later serialising) such a value is what costs memory and recursion. This module only consumes
events; the parser's own errors (bad syntax, a file that stops early) pass through.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from salon.domain.errors import InvalidInput

MAX_NESTING = 500  # Salon's own files allow 64 inside a part; json.dumps recurses
Event = tuple[str, Any]
_OPEN = frozenset({"start_map", "start_array"})
_CLOSE = frozenset({"end_map", "end_array"})


@dataclass(frozen=True)
class TooDeep:
    """A value that was skipped because it nests more than MAX_NESTING levels."""

    reason: str = f"It is nested more than {MAX_NESTING} levels deep."


class JsonItems:
    """Each element of a top-level list (``is_list``), or the one top-level value."""

    def __init__(self, events: Iterator[Event], *, max_depth: int = MAX_NESTING) -> None:
        first = next(events, None)
        if first is None:
            raise InvalidInput("The file is empty.", code="INVALID_JSON")
        self._first, self._events, self._max_depth = first, events, max_depth
        self.is_list = first[0] == "start_array"

    def __iter__(self) -> Iterator[object]:
        if self.is_list:
            for event in self._events:
                if event[0] == "end_array":
                    break
                yield _build(event, self._events, self._max_depth)
        else:
            yield _build(self._first, self._events, self._max_depth)
        for _ in self._events:  # the parser refuses anything after the value here
            pass


def _build(first: Event, events: Iterator[Event], max_depth: int) -> object:
    """The value that starts with ``first``; TooDeep (its events consumed) past max_depth."""
    kind, value = first
    if kind not in _OPEN:
        return value
    root: Any = {} if kind == "start_map" else []
    stack: list[Any] = [root]
    key: str = ""
    for kind, value in events:
        if kind == "map_key":
            key = value
        elif kind in _OPEN:
            child: Any = {} if kind == "start_map" else []
            _put(stack[-1], key, child)
            stack.append(child)
            if len(stack) > max_depth:
                _skip(events, depth=len(stack))
                return TooDeep()
        elif kind in _CLOSE:
            stack.pop()
            if not stack:
                return root
        else:
            _put(stack[-1], key, value)
    return root  # the parser raises before the events run out mid-value


def _put(container: Any, key: str, value: object) -> None:
    if type(container) is list:
        container.append(value)
    else:
        container[key] = value


def _skip(events: Iterator[Event], *, depth: int) -> None:
    for kind, _ in events:
        if kind in _OPEN:
            depth += 1
        elif kind in _CLOSE:
            depth -= 1
            if depth == 0:
                return


def too_deep(value: object, *, max_depth: int = MAX_NESTING) -> bool:
    """Whether an already built value nests more than ``max_depth`` levels (no recursion)."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        current, depth = pending.pop()
        if not isinstance(current, dict | list):
            continue
        for child in current.values() if isinstance(current, dict) else current:
            if isinstance(child, dict | list):
                if depth + 1 > max_depth:
                    return True
                pending.append((child, depth + 1))
    return False
