"""Whether a pattern's scan of a text can cost more than in proportion to the text's length.

Every text a caller's call or a filing role sends is scanned with each rule pattern: a
pattern that reads the rest of the text from each of many places costs time with the square
of the length ("卡" × 5,000 cost 0.5 CPU-s in one lookahead; redos39). ``growth_fault`` reads
the standard library's parse of a pattern (``re._parser``, the tree ``re.compile``
compiles) and accepts it only when its structure bounds the work per start, so a scan is
linear in the text whatever the text. Sufficient, not necessary: a pattern it refuses may
be linear; bench/regex_worst.py measures. An unbounded repeat (``*``, ``+``, ``{n,}``) is
accepted only

- outside any other repeat (``(a+)+`` is the classic blow-up), and with no other unbounded
  repeat before it on its path, a lookaround's included (``.*a.*b`` multiplies);
- and where a scan reaches it from few starts: in an alternative anchored at the text's
  start (``^``, no MULTILINE), or right after a one-character lookbehind that says the
  character before is none it repeats (``(?<![0-9])[0-9]+``, ``(?<![^，])[^，]*``,
  ``(?<=[一-龥])\\s+``): a run is then read from its first character only.

Everything else must be bounded (``{0,200}``): each start then reads a bounded stretch.
A bound's size is not judged here: the bench gives the figure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

try:
    from re import _parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python < 3.11 is not supported
    _parser = None

__all__ = ["class_source", "growth_fault"]

# A class with more members than this is not enumerated (a negated one never is).
_ENUMERABLE = 0x10000
_CATEGORIES = {"CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_SPACE": r"\s",
               "CATEGORY_NOT_SPACE": r"\S", "CATEGORY_WORD": r"\w", "CATEGORY_NOT_WORD": r"\W"}
_CONSUMING = {"LITERAL", "NOT_LITERAL", "IN", "ANY"}
# What an unbounded repeat or a back-reference is written with (a star or a plus anywhere,
# escaped or in a class too, "{n,}", "\\1", "(?P="): a source without any has neither.
_MAY_GROW = re.compile(r"[*+]|\{\d*,\}|\\\d|\(\?P=")


class _Fault(Exception):
    pass


def growth_fault(pattern: re.Pattern[str]) -> str | None:
    """Why scanning a text with ``pattern`` may cost more than in proportion to the text's
    length (see the module's doc), or None when its structure rules that out."""
    if _parser is None:  # pragma: no cover
        return None
    if not _MAY_GROW.search(pattern.pattern):
        return None  # no unbounded repeat, no back-reference: nothing to parse (load time)
    try:
        _Walk(pattern.flags).sequence(_parser.parse(pattern.pattern, pattern.flags),
                                      _Path())
    except _Fault as fault:
        return str(fault)
    return None


class _Path:
    """Where a walk is: unbounded repeats passed before (``before``), inside a repeat,
    anchored at the text's start, anything consumed yet, the lookbehind just passed."""

    def __init__(self, before: int = 0, in_repeat: bool = False, anchored: bool = False,
                 consumed: bool = False, guard: tuple[bool, list[Any]] | None = None) -> None:
        self.before, self.in_repeat, self.anchored = before, in_repeat, anchored
        self.consumed, self.guard = consumed, guard

    def copy(self, **changes: Any) -> _Path:
        fields = dict(vars(self))
        fields.update(changes)
        return _Path(**fields)


class _Walk:
    def __init__(self, flags: int) -> None:
        self.flags = flags

    def sequence(self, items: Iterable[tuple[Any, Any]], path: _Path) -> _Path:
        """``path`` after ``items``: its ``before`` counts the unbounded repeats passed."""
        for op, arg in items:
            path = self.node(str(op), arg, path)
        return path

    def node(self, op: str, arg: Any, path: _Path) -> _Path:
        if op in _CONSUMING:
            return path.copy(consumed=True, guard=None)
        if op == "AT":
            if not path.consumed and str(arg) in ("AT_BEGINNING_STRING", "AT_BEGINNING") and not (
                    str(arg) == "AT_BEGINNING" and self.flags & re.MULTILINE):
                return path.copy(anchored=True)
            return path
        if op == "SUBPATTERN":
            return self.sequence(arg[3], path)
        if op == "ATOMIC_GROUP":
            return self.sequence(arg, path)
        if op == "BRANCH":
            ends = [self.sequence(alternative, path) for alternative in arg[1]]
            return path.copy(before=max(end.before for end in ends),
                             consumed=any(end.consumed for end in ends) or path.consumed,
                             guard=None)
        if op == "GROUPREF_EXISTS":
            ends = [self.sequence(branch, path) for branch in arg[1:] if branch is not None]
            return path.copy(before=max(end.before for end in ends), consumed=True, guard=None)
        if op in ("ASSERT", "ASSERT_NOT"):
            direction, content = arg
            if direction < 0:  # a lookbehind: fixed width, and perhaps a guard
                guard = _single_set(content)
                return path.copy(guard=(op == "ASSERT", guard) if guard else path.guard)
            # A lookahead reads from here, once each time the scan is here: what it repeats
            # comes after what was passed, but nothing after it backtracks into it.
            self.sequence(content, path.copy())
            return path
        if op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            return self.repeat(arg, path)
        if op == "GROUPREF":
            raise _Fault("a back-reference (its width is not bounded here)")
        return path  # other zero-width nodes

    def repeat(self, arg: Any, path: _Path) -> _Path:
        _, most, body = arg
        if most != _parser.MAXREPEAT:
            inner = path.copy(in_repeat=path.in_repeat or most > 1)
            end = self.sequence(body, inner)
            return path.copy(before=end.before, consumed=end.consumed or path.consumed,
                             guard=None if end.consumed else path.guard)
        if path.in_repeat:
            raise _Fault("an unbounded repeat inside a repeat")
        if path.before:
            raise _Fault("an unbounded repeat after another on the same path")
        if not (path.anchored or self.fenced(path.guard, body)):
            raise _Fault("an unbounded repeat that a scan reaches from anywhere in a run: "
                         "bound it ({0,N}), anchor it (^), or start it where its run "
                         "starts ((?<![C])C+)")
        self.sequence(body, path.copy(in_repeat=True))
        return path.copy(before=path.before + 1, consumed=True, guard=None)

    def fenced(self, guard: tuple[bool, list[Any]] | None, body: Any) -> bool:
        """Whether the lookbehind just passed says the character before is none ``body``
        (a single set) repeats: a negative one covering the set, a positive one apart."""
        repeated = _single_set(body)
        if guard is None or repeated is None:
            return False
        positive, seen = guard
        if positive:
            return self.apart(seen, repeated)
        return self.covers(seen, repeated)

    def covers(self, outer: list[Any], inner: list[Any]) -> bool:
        if _key(outer) >= _key(inner) and not _negated(outer) and not _negated(inner):
            return True
        if _negated(outer) and _negated(inner):
            # [^B] covers [^A] when B lies in A.
            excluded = _members(_plain(outer))
            return _key(_plain(outer)) <= _key(_plain(inner)) or (
                excluded is not None and all(self.matches(_plain(inner), c) for c in excluded))
        members = _members(inner)
        return members is not None and all(self.matches(outer, c) for c in members)

    def apart(self, one: list[Any], other: list[Any]) -> bool:
        for first, second in ((one, other), (other, one)):
            members = _members(first)
            if members is not None:
                return not any(self.matches(second, c) for c in members)
        return False

    def matches(self, items: list[Any], char: str) -> bool:
        return _compiled_class(class_source(items), self.flags).fullmatch(char) is not None


_CLASS_CACHE: dict[tuple[str, int], re.Pattern[str]] = {}


def _compiled_class(source: str, flags: int) -> re.Pattern[str]:
    key = (source, flags & re.IGNORECASE)
    if key not in _CLASS_CACHE:
        _CLASS_CACHE[key] = re.compile(source, flags & re.IGNORECASE)
    return _CLASS_CACHE[key]


def _single_set(items: Any) -> list[Any] | None:
    """The class items of a sequence that is one character set, or None."""
    nodes = list(items)
    if len(nodes) != 1:
        return None
    op, arg = str(nodes[0][0]), nodes[0][1]
    if op == "LITERAL":
        return [(_parser.LITERAL, arg)]
    if op == "NOT_LITERAL":
        return [(_parser.NEGATE, None), (_parser.LITERAL, arg)]
    if op == "IN":
        return list(arg)
    if op == "ANY":
        return [("ANY", None)]
    return None


def _negated(items: list[Any]) -> bool:
    return any(str(kind) == "NEGATE" for kind, _ in items)


def _plain(items: list[Any]) -> list[Any]:
    return [(kind, value) for kind, value in items if str(kind) != "NEGATE"]


def _key(items: list[Any]) -> set[tuple[str, str]]:
    return {(str(kind), str(value)) for kind, value in items}


def _members(items: list[Any]) -> list[str] | None:
    """Every character of a class of literals and ranges, or None (negated, a category,
    any character, or too many)."""
    found: list[str] = []
    for kind, value in items:
        kind = str(kind)
        if kind == "LITERAL":
            found.append(chr(value))
        elif kind == "RANGE" and value[1] - value[0] < _ENUMERABLE:
            found.extend(map(chr, range(value[0], value[1] + 1)))
        else:
            return None
    return found if len(found) <= _ENUMERABLE else None


def class_source(items: list[Any]) -> str:
    """A class's parsed items as a pattern again (``.`` for any character)."""
    parts: list[str] = []
    for kind, value in items:
        kind = str(kind)
        if kind == "ANY":
            return "."
        if kind == "NEGATE":
            parts.insert(0, "^")
        elif kind == "LITERAL":
            parts.append(re.escape(chr(value)))
        elif kind == "RANGE":
            parts.append(f"{re.escape(chr(value[0]))}-{re.escape(chr(value[1]))}")
        elif kind == "CATEGORY":
            parts.append(_CATEGORIES[str(value)])
        else:
            raise _Fault(f"a class item not known here: {kind}")
    return f"[{''.join(parts)}]"
