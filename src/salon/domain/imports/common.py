"""What the parsers of other apps' exports share: checked reading of loose JSON, times given
as epoch numbers, texts with a size limit, and walking a message tree from its current leaf.

Every function raises ``InvalidInput`` naming where the problem is (``chat.history.messages
['a1'].role``), never KeyError or TypeError: these files come from other programs and from
people, and a conversation that cannot be read is reported, not crashed on.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from salon.domain.conversations import MAX_TITLE_CHARS, clean_title
from salon.domain.errors import InvalidInput
from salon.domain.salon_json import in_utc

DEFAULT_TITLE = "Imported chat"
MAX_TEXT_CHARS = 1_000_000
MAX_BRANCH_NODES = 50_000  # nodes walked from the current leaf to the root
MAX_NAME_CHARS = 200
# Epoch numbers above these are milliseconds, microseconds, nanoseconds (apps differ).
_EPOCH_UNITS = ((1e17, 1e9), (1e14, 1e6), (1e11, 1e3))
_LATEST_EPOCH = 253_402_300_799  # 9999-12-31T23:59:59Z
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def fingerprint(value: object) -> str:
    """The same source conversation gives the same fingerprint (as Salon's own files do)."""
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def without_lone_surrogates(value: object) -> object:
    """``value`` (parsed JSON) with every lone surrogate (``"\\ud800"`` without its pair: not
    Unicode text, no database can store it) replaced by U+FFFD, in keys too. Runs first, so
    the fingerprint and every parser see only real text; NUL is left to ``text`` and the
    other readers, which replace it where it can land."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [without_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {without_lone_surrogates(str(k)): without_lone_surrogates(v)
                for k, v in value.items()}
    return value


def mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where} must be an object.")
    return value


def optional_mapping(value: object, where: str) -> Mapping[str, Any]:
    return {} if value is None else mapping(value, where)


def items(value: object, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{where} must be a list.")
    return value


def text(value: object, where: str) -> str:
    """A text as stored: NUL characters replaced (databases refuse them), anything past
    MAX_TEXT_CHARS cut off with a note saying so. HTML stays text: the renderer escapes it."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be a string.")
    if len(value) > MAX_TEXT_CHARS:
        value = (value[:MAX_TEXT_CHARS] + f"\n\n[Cut here by the import: the original has "
                 f"{len(value):,} characters, the limit is {MAX_TEXT_CHARS:,}.]")
    return value.replace("\x00", "\ufffd")


def name(value: object, where: str) -> str | None:
    """A short label (a model name, a tool name), cut to MAX_NAME_CHARS; None when absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be a string.")
    return value[:MAX_NAME_CHARS].replace("\x00", "\ufffd")


def title(value: object, where: str) -> str:
    cleaned = text(value, where)[:MAX_TITLE_CHARS]
    try:
        return clean_title(cleaned)
    except InvalidInput:  # empty once cleaned
        return DEFAULT_TITLE


def moment(value: object, where: str) -> datetime | None:
    """A time given as epoch seconds (or milliseconds...), or ISO 8601; None when absent."""
    if value is None:
        return None
    if isinstance(value, str):
        return _iso_moment(value, where)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{where} must be a time (seconds since 1970).")
    seconds = float(value)
    for above, per_second in _EPOCH_UNITS:
        if seconds > above:
            seconds /= per_second
            break
    if not 0 <= seconds <= _LATEST_EPOCH:
        raise InvalidInput(f"{where} is not a plausible time: {value!r}.")
    return datetime.fromtimestamp(seconds, UTC)


def _iso_moment(value: str, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{where} is not a time: {value[:40]!r}.") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return in_utc(parsed, where)


def current_branch(
    nodes: Mapping[str, Any], leaf: object, *, parent_of: Callable[[Mapping[str, Any]], object],
    where: str,
) -> list[str]:
    """The ids from the root down to ``leaf``, following each node's parent. A parent that is
    not among ``nodes`` ends the walk (that node is the root); a cycle is refused."""
    if not isinstance(leaf, str):
        raise InvalidInput(f"{where}: the current message id must be a string.")
    path: list[str] = []
    seen: set[str] = set()
    current: object = leaf
    while isinstance(current, str) and current in nodes:
        if current in seen:
            raise InvalidInput(f"{where}: the parent links form a cycle at {current[:80]!r}.")
        if len(path) >= MAX_BRANCH_NODES:
            raise InvalidInput(f"{where}: the conversation is more than "
                               f"{MAX_BRANCH_NODES:,} messages deep.")
        seen.add(current)
        path.append(current)
        node = mapping(nodes[current], f"{where}[{current[:80]!r}]")
        current = parent_of(node)
        if current is not None and not isinstance(current, str):
            raise InvalidInput(f"{where}[{path[-1][:80]!r}]: the parent id must be a string.")
    if not path:
        raise InvalidInput(f"{where}: the current message {leaf[:80]!r} is not in it.")
    path.reverse()
    return path


def latest_leaf(
    nodes: Mapping[str, Any], *, children_of: Callable[[Mapping[str, Any]], object],
    time_of: Callable[[Mapping[str, Any]], object],
) -> str | None:
    """The newest message that has no reply: the current one when the file does not say."""
    best: tuple[float, int, str] | None = None
    for order, (node_id, node) in enumerate(nodes.items()):
        if not isinstance(node, Mapping) or children_of(node):
            continue
        when = time_of(node)
        key = (float(when) if isinstance(when, int | float) and not isinstance(when, bool)
               and math.isfinite(when) else 0.0, order, node_id)
        if best is None or key > best:
            best = key
    return None if best is None else best[2]
