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

import contextlib
import hashlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

try:
    from re import _parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python < 3.11 is not supported
    _parser = None

__all__ = ["class_source", "growth_fault", "keep_passes_in", "save_passes"]

# A class with more members than this is not enumerated (a negated one never is).
_ENUMERABLE = 0x10000
_CATEGORIES = {"CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_SPACE": r"\s",
               "CATEGORY_NOT_SPACE": r"\S", "CATEGORY_WORD": r"\w", "CATEGORY_NOT_WORD": r"\W"}
_CONSUMING = {"LITERAL", "NOT_LITERAL", "IN", "ANY"}
# What a repeat or a back-reference is written with (a star, a plus or a brace anywhere,
# escaped or in a class too, "\\1", "(?P="): a source without any has neither. Bounded
# repeats are parsed too: "(a|aa){1,1000}" is read in exponentially many ways (review94).
_MAY_GROW = re.compile(r"[*+{]|\\\d|\(\?P=")
# The most strings a repeated part's words are spelt out to (``_strings``).
_SPELT = 512


class _Fault(Exception):
    pass


def growth_fault(pattern: re.Pattern[str]) -> str | None:
    """Why scanning a text with ``pattern`` may cost more than in proportion to the text's
    length (see the module's doc), or None when its structure rules that out.

    The verdict depends on the pattern's text and flags alone (and on this module and
    Python's parser): it is kept for the process, and a pass also in the file
    ``keep_passes_in`` names, if any. ~0.3 CPU-s of each first load of the shipped rules,
    paid by every `hotline serve` process, a supervisor and each of its API workers, and
    again at every restart (docs/suite.md, thirty-sixth round). A fault is never kept on
    disk: a refused pattern is walked again at every process's load."""
    if _parser is None:  # pragma: no cover
        return None
    if not _MAY_GROW.search(pattern.pattern):
        return None  # no unbounded repeat, no back-reference: nothing to parse (load time)
    key = (pattern.pattern, pattern.flags)
    if key in _VERDICTS:
        return _VERDICTS[key]
    digest = _digest(*key)
    if digest in _store.passed:
        _VERDICTS[key] = None
        return None
    try:
        _Walk(pattern.flags).sequence(_parser.parse(pattern.pattern, pattern.flags),
                                      _Path())
    except _Fault as fault:
        _VERDICTS[key] = str(fault)
        return str(fault)
    _VERDICTS[key] = None
    with _store.lock:
        _store.new.add(digest)
    return None


# Each pattern's verdict, by its text and flags, for the life of the process.
_VERDICTS: dict[tuple[str, int], str | None] = {}


def _checker() -> str:
    """What a verdict depends on besides the pattern: this module's code and the parser of
    this Python (``re._parser``, whose tree the walk reads)."""
    return hashlib.sha256(Path(__file__).read_bytes() + sys.version.encode()).hexdigest()


def _digest(source: str, flags: int) -> str:
    return hashlib.sha256(f"{_store.checker}\0{flags}\0{source}".encode()).hexdigest()


class _Store:
    """The passes kept on disk (``keep_passes_in``): one SHA-256 a line, each of a pattern
    with its flags and the checker (``_checker``) that passed it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.path: Path | None = None
        self.checker = ""
        self.passed: frozenset[str] = frozenset()
        self.new: set[str] = set()


_store = _Store()
_PASSES_FILE = "pattern-growth-passes"


def keep_passes_in(directory: Path) -> None:
    """Read the passes kept in ``directory`` (the service's data dir's, ``hotline serve``)
    and keep new ones there (``save_passes``).

    Safe because what a line says is narrow: these exact characters, with these flags,
    were found linear by this exact checker (its source and Python's version are in the
    hash); an edited pattern, a new checker or another Python is another hash, and a fault
    is never written. A line forged into the file skips the walk of only the pattern it
    names, and only if that pattern is also written into a rule file; and whoever can
    write the data dir can already change far more than a rule's cost (the database, the
    trained model and its hash beside it)."""
    path = Path(directory) / _PASSES_FILE
    with contextlib.suppress(OSError):  # the service makes its data dir (``save_passes``)
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        lines = path.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):  # none yet, or unreadable: walked afresh
        lines = []
    with _store.lock:
        if _store.path != path:
            _store.checker = _checker()
            _store.path = path
            _store.new = set()
        _store.passed = frozenset(line for line in lines if len(line) == 64)


def save_passes() -> None:
    """Write the passes found since ``keep_passes_in`` beside the kept ones (write then
    rename: a reader never sees half a file; two processes writing at once lose nothing
    but a pass the next start walks again). Errors are not the load's business: logged
    nowhere, the file is a cache."""
    with _store.lock:
        if _store.path is None or not _store.new:
            return
        path, lines = _store.path, _store.passed | _store.new
        _store.passed, _store.new = lines, set()
    # Not made again here: a directory gone since (a test's) is no place to write.
    with contextlib.suppress(OSError):
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{_PASSES_FILE}.")
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write("".join(f"{line}\n" for line in sorted(lines)))
            os.replace(temp, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temp)


class _Path:
    """Where a walk is: unbounded repeats passed before (``before``), inside a repeat,
    anchored at the text's start, anything consumed yet, the lookbehind just passed."""

    def __init__(self, before: int = 0, in_repeat: bool = False, anchored: bool = False,
                 consumed: bool = False, guard: tuple[bool, list[Any]] | None = None,
                 last: bool = True) -> None:
        self.before, self.in_repeat, self.anchored = before, in_repeat, anchored
        self.consumed, self.guard = consumed, guard
        # Nothing after this point can fail: what is here is never backtracked into.
        self.last = last

    def copy(self, **changes: Any) -> _Path:
        fields = dict(vars(self))
        fields.update(changes)
        return _Path(**fields)


class _Walk:
    def __init__(self, flags: int) -> None:
        self.flags = flags

    def sequence(self, items: Iterable[tuple[Any, Any]], path: _Path) -> _Path:
        """``path`` after ``items``: its ``before`` counts the unbounded repeats passed."""
        items = list(items)
        last = path.last
        for i, (op, arg) in enumerate(items):
            path = self.node(str(op), arg,
                             path.copy(last=last and not any(_may_fail(n) for n in items[i + 1:])))
        return path.copy(last=last)

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
                self.sequence(content, path.copy(last=False))
                guard = _single_set(content)
                return path.copy(guard=(op == "ASSERT", guard) if guard else path.guard)
            # A lookahead reads from here, once each time the scan is here: what it repeats
            # comes after what was passed, but nothing after it backtracks into it.
            self.sequence(content, path.copy(last=False))
            return path
        if op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            return self.repeat(arg, path)
        if op == "GROUPREF":
            raise _Fault("a back-reference (its width is not bounded here)")
        return path  # other zero-width nodes

    def repeat(self, arg: Any, path: _Path) -> _Path:
        least, most, body = arg
        # Followed by nothing that can fail, a repeat that needs one turn at most is read
        # once from a start: greedy or lazy, the first way it finds ends the match.
        final = path.last and least <= 1
        if most > 1 and not final and (why := self.ambiguous(body)):
            raise _Fault(f"a repeat {_repeat_source(arg)} whose part {why}: the same words "
                         "read in exponentially many ways when what follows fails; make "
                         "its alternatives start apart, or repeat a part of one length")
        if most != _parser.MAXREPEAT:
            inner = path.copy(in_repeat=path.in_repeat or most > 1, last=False)
            end = self.sequence(body, inner)
            return path.copy(before=end.before, consumed=end.consumed or path.consumed,
                             guard=None if end.consumed else path.guard)
        shown = _repeat_source(arg)
        if path.in_repeat:
            raise _Fault(f"an unbounded repeat {shown} inside a repeat: {_bounded(arg)}")
        if path.before:
            raise _Fault(f"an unbounded repeat {shown} after another on the same path: "
                         f"{_bounded(arg)}")
        if not (path.anchored or (final and not path.before) or self.fenced(path.guard, body)):
            raise _Fault(f"an unbounded repeat {shown} that a scan reaches from anywhere in a "
                         f"run: {_bounded(arg)}, anchor it (^), or start it where its run "
                         "starts ((?<![C])C+)")
        self.sequence(body, path.copy(in_repeat=True, last=False))
        return path.copy(before=path.before + 1, consumed=True, guard=None)

    def ambiguous(self, body: Any) -> str | None:
        """Why the same words may be read as turns of ``body`` in more than one way, or None:
        a part of one length is read one way; a part of few spellings when they are a
        uniquely decodable code (Sardinas-Patterson); any other is refused."""
        low, high = body.getwidth()
        if low == high:
            return None
        spelt = _strings(body)
        if spelt is None:
            return "has many spellings of different lengths (a class or a repeat in it)"
        if self.flags & re.IGNORECASE:
            spelt = {word.casefold() for word in spelt}
        if not _uniquely_decodable(spelt):
            return "has spellings that join up in more than one way"
        return None

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


def _may_fail(node: tuple[Any, Any]) -> bool:
    """Whether a node can fail where it is tried (a repeat of at least none cannot)."""
    op, arg = str(node[0]), node[1]
    if op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        return arg[0] > 0 and any(_may_fail(n) for n in arg[2])
    if op in ("SUBPATTERN",):
        return any(_may_fail(n) for n in arg[3])
    if op == "ATOMIC_GROUP":
        return any(_may_fail(n) for n in arg)
    if op == "BRANCH":
        return all(any(_may_fail(n) for n in alternative) for alternative in arg[1])
    return op not in ("MARK",)


def _strings(items: Any, limit: int = _SPELT) -> set[str] | None:
    """Every spelling of ``items`` with zero-width parts read as empty (more than they
    match), or None: a class of many members, an unbounded repeat, more than ``limit``."""
    found = {""}
    for op, arg in items:
        op = str(op)
        if op == "LITERAL":
            part: set[str] | None = {chr(arg)}
        elif op == "IN":
            members = _members(list(arg))
            part = set(members) if members is not None and len(members) <= 32 else None
        elif op == "SUBPATTERN":
            part = _strings(arg[3], limit)
        elif op == "ATOMIC_GROUP":
            part = _strings(arg, limit)
        elif op == "BRANCH":
            spelt = [_strings(alternative, limit) for alternative in arg[1]]
            part = None if None in spelt else set().union(*spelt)  # type: ignore[arg-type]
        elif op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            least, most, body = arg
            once = _strings(body, limit)
            if once is None or most == _parser.MAXREPEAT or most > limit:
                return None
            part, turns = set(), {""}
            for turn in range(most + 1):
                if turn >= least:
                    part |= turns
                turns = {a + b for a in turns for b in once}
                if len(part) > limit or len(turns) > limit:
                    return None
        elif op in ("ASSERT", "ASSERT_NOT", "AT", "MARK"):
            part = {""}
        else:  # any character, a negated class, a category, a back-reference
            return None
        if part is None:
            return None
        found = {a + b for a in found for b in part}
        if len(found) > limit:
            return None
    return found


def _uniquely_decodable(code: set[str]) -> bool:
    """Whether no text is a sequence of ``code``'s words in two ways (Sardinas-Patterson:
    no dangling suffix is a word)."""
    if "" in code:
        return False
    dangling = {w[len(u):] for u in code for w in code if u != w and w.startswith(u)}
    todo = list(dangling)
    while todo:
        rest = todo.pop()
        if rest in code:
            return False
        for word in code:
            for following in (word[len(rest):] if word.startswith(rest) else "",
                              rest[len(word):] if rest.startswith(word) else ""):
                if following and following not in dangling:
                    dangling.add(following)
                    todo.append(following)
    return True


def _repeat_source(arg: Any) -> str:
    """A repeat as it may have been written (``.*``, ``[0-9]+``, ``(…){1,1000}``)."""
    least, most, body = arg
    single = _single_set(body)
    part = "(…)"
    if single is not None:
        with contextlib.suppress(_Fault):  # a class item not spelt here: shown as (…)
            part = class_source(single)
        if part.startswith("[") and len(single) == 1 and str(single[0][0]) == "LITERAL":
            part = re.escape(chr(single[0][1]))
    if most == _parser.MAXREPEAT:
        count = {0: "*", 1: "+"}.get(least, f"{{{least},}}")
    else:
        count = f"{{{least},{most}}}"
    return f"`{part}{count}`"


def _bounded(arg: Any) -> str:
    """What to write instead of an unbounded repeat: the same part, a bound on its count."""
    least, _, body = arg
    single = _single_set(body)
    part = _repeat_source((least, 1, body))[1:].rsplit("{", 1)[0] if single else "(…)"
    return f"bound it (`{part}{{{least},N}}`, N the most it need read, e.g. `{part}{{{least},50}}`)"
