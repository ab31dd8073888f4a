"""How each pattern the intake reads a caller's words with grows with the length of the text.

Every compiled pattern the classifier, the address reader and the knowledge base's matching
use: the rules of ``config/classification.toml`` (or ``--rules FILE``, a city's own) with
``[lists]`` put in, their ``unless``/``unless_call``/``when_call`` patterns and keyword
screens, the address patterns, ``[everyday_words]``, ``[negation] retracted`` and every
``[not_now]`` pattern, then every pattern held at module level by the intake's modules
(classify, places, respondent, substance, hearing, intake_model) and the knowledge base's
(search, details, objects and their families). Each is timed on adversarial texts built
from its own alphabet, read off the standard library's parse of the pattern: a run of each
literal character and of a few members of each class, and a run of a string matched by each
alternative and each group repeated (``"卡一年卡一年…"``), at n = 1,000, 2,000 and 4,000
characters, one ``finditer`` over the whole text (how the intake scans). A linear pattern
costs twice as much for twice the text (growth ~2); a quadratic one four times.

Each pattern's alphabet is screened at 500 and 2,000 characters, and its worst three texts
(by cost and by growth) timed again, best of three, at the three sizes. Printed: the ranking
by growth (t(4000)/t(1000), square-rooted: the factor per doubling) and the worst CPU time at
4,000, and with ``--classify`` what ``classify`` costs on the worst text of each pattern that
grows and of the ten costliest, at 2,000 and 8,000 characters, with its growth per doubling.
A scan is timed with ``finditer`` (every start), an upper bound on ``search``; a text is a
run of one string, so a pattern that needs two different runs to backtrack is not
provoked: ``ticketing.pattern_growth`` checks the rule file's structure at load.

    .venv/bin/python bench/regex_worst.py [--top 40] [--classify] [--rules FILE]

Figures are CPU seconds of this process (``time.process_time``): report ``uptime`` beside them.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import re
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from re import _parser  # type: ignore[attr-defined]
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from config import get_settings  # noqa: E402
from ticketing.classify import ClassificationRules, classify, load_rules  # noqa: E402
from ticketing.classify import rule_patterns as classify_rule_patterns  # noqa: E402
from ticketing.pattern_growth import class_source  # noqa: E402

SIZES = (1000, 2000, 4000)
SCREEN = (500, 2000)
# Characters tried besides a pattern's own: one of each kind a class may hold or exclude.
FILLERS = ("中", "a", "1", " ", "，", "的")
# Units (characters and strings) tried per pattern, at most: a huge alternation's words
# are sampled evenly.
MAX_UNITS = 600
MODULES = ("ticketing.classify", "ticketing.places", "ticketing.respondent",
           "ticketing.substance", "ticketing.hearing", "ticketing.intake_model",
           "knowledge.search", "knowledge.details", "knowledge.objects")


# --------------------------------------------------------------------------- the patterns


def rule_patterns(rules: ClassificationRules) -> Iterator[tuple[str, re.Pattern[str]]]:
    """Every pattern a loaded rule file compiled (``classify.rule_patterns``, those the load
    checks), and each rule's keyword screen."""
    yield from classify_rule_patterns(rules)
    for group in (rules.category_rules, rules.urgency_rules, rules.emergency_rules,
                  rules.kind_rules, rules.sub_category_rules, rules.kind_over_model):
        for rule in group:
            if rule.any_keyword is not None:
                yield f"{rule.id}.any_keyword", rule.any_keyword


def held_patterns(value: Any, where: str, seen: set[int]) -> Iterator[tuple[str, re.Pattern[str]]]:
    """Patterns inside ``value``: itself, or in its mappings, sequences and dataclasses."""
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, re.Pattern):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from held_patterns(item, f"{where}[{key!r}]", seen)
    elif isinstance(value, list | tuple | set | frozenset):
        for i, item in enumerate(value):
            yield from held_patterns(item, f"{where}[{i}]", seen)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from held_patterns(getattr(value, field.name, None), f"{where}.{field.name}",
                                     seen)


def module_patterns() -> Iterator[tuple[str, re.Pattern[str]]]:
    """Patterns the intake's and the knowledge base's modules hold, and those they build
    from their own data files (respondent words, object families, synonyms)."""
    from knowledge import objects, search
    from ticketing import respondent

    settings = get_settings()
    seen: set[int] = set()
    for name in MODULES:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            yield from held_patterns(value, f"{name}.{attr}", seen)
    yield from held_patterns(respondent.load_rules(settings.respondent_file),
                             "respondent rules", seen)
    yield from held_patterns(objects.load_objects(objects.OBJECTS_FILE, search.normalise).families,
                             "kb families", seen)
    yield from held_patterns(search._load_synonyms(search.SYNONYMS_FILE)[0], "kb synonyms", seen)


def every_pattern(rules_file: Path | None) -> list[tuple[str, re.Pattern[str]]]:
    """Each distinct pattern once (by its source and flags), the first name it was met by."""
    out: dict[tuple[str, int], tuple[str, re.Pattern[str]]] = {}
    for name, pattern in (*rule_patterns(load_rules(rules_file)), *module_patterns()):
        out.setdefault((pattern.pattern, pattern.flags), (name, pattern))
    return list(out.values())


# --------------------------------------------------------------------------- the texts


class _Alphabet:
    """The characters and strings a pattern is built of, read off its parse tree."""

    def __init__(self) -> None:
        self.chars: set[str] = set()
        self.strings: set[str] = set()

    def sample(self, items: Iterable[tuple[Any, Any]], least: bool) -> str:
        """A string ``items`` match (look-arounds read as matching nothing), each repeat at
        its least count (``least``) or at least once, each alternation by its first; every
        group and alternative met is kept as a string of its own."""
        return "".join(self.node(str(op), arg, least) for op, arg in items)

    def node(self, op: str, arg: Any, least: bool) -> str:
        if op == "LITERAL":
            self.chars.add(chr(arg))
            return chr(arg)
        if op == "NOT_LITERAL":
            return next(c for c in FILLERS if ord(c) != arg)
        if op == "ANY":
            return FILLERS[0]
        if op == "IN":
            return self.members(arg)
        if op == "SUBPATTERN":
            return self.kept(self.sample(arg[3], least))
        if op == "ATOMIC_GROUP":
            return self.kept(self.sample(arg, least))
        if op == "BRANCH":
            samples = [self.kept(self.sample(alt, least)) for alt in arg[1]]
            return samples[0]
        if op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            body = self.kept(self.sample(arg[2], least))
            count = arg[0] if least else max(arg[0], 1)
            return body * min(count, 8)
        if op in ("ASSERT", "ASSERT_NOT"):
            self.kept(self.sample(arg[1], least))
            return ""
        if op == "GROUPREF_EXISTS":
            return self.sample(arg[1], least)
        return ""  # AT (anchors), GROUPREF: nothing of their own

    def members(self, items: list[tuple[Any, Any]]) -> str:
        """A few members of a class (the first is the sample): literals, each range's ends
        and middle; for a negated class or a category, the fillers it admits."""
        found: list[str] = []
        negated = False
        for kind, value in items:
            kind = str(kind)
            if kind == "LITERAL":
                found.append(chr(value))
            elif kind == "RANGE":
                low, high = value
                found += [chr(low), chr((low + high) // 2), chr(high)]
            elif kind == "NEGATE":
                negated = True
        if negated or not found:
            probe = re.compile(class_source(items))
            found = [c for c in FILLERS if probe.fullmatch(c)] or found
        self.chars.update(found)
        return found[0] if found else FILLERS[0]

    def kept(self, text: str) -> str:
        if len(text) > 1:
            self.strings.add(text)
        return text


def units(pattern: re.Pattern[str]) -> list[str]:
    """What the adversarial texts of ``pattern`` repeat: each of its characters and of its
    groups' and alternatives' strings (at their least and at one of each), and the fillers."""
    alphabet = _Alphabet()
    tree = _parser.parse(pattern.pattern, pattern.flags)
    for least in (True, False):
        alphabet.kept(alphabet.sample(tree, least))
    found = sorted(alphabet.chars | set(FILLERS)) + sorted(alphabet.strings, key=len)
    if len(found) > MAX_UNITS:
        step = len(found) / MAX_UNITS
        found = [found[int(i * step)] for i in range(MAX_UNITS)]
    return found


def text_of(unit: str, n: int) -> str:
    return (unit * (n // len(unit) + 1))[:n]


# --------------------------------------------------------------------------- the timing


def cost(pattern: re.Pattern[str], text: str, runs: int = 1) -> float:
    """CPU seconds of one scan of ``text``, the least of ``runs``."""
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        for _ in pattern.finditer(text):
            pass
        best = min(best, time.process_time() - start)
    return best


@dataclasses.dataclass
class Finding:
    name: str
    pattern: re.Pattern[str]
    unit: str
    times: tuple[float, ...]  # at SIZES

    @property
    def growth(self) -> float:
        """Factor per doubling of the text, from n = 1,000 to 4,000 (linear: 2)."""
        first, last = max(self.times[0], 1e-6), max(self.times[-1], 1e-6)
        return float((last / first) ** 0.5)


def worst(name: str, pattern: re.Pattern[str], keep: int = 3) -> Finding:
    """The text of ``pattern``'s alphabet that grows fastest (ties: costs most at 4,000)."""
    screened = []
    for unit in units(pattern):
        small, large = (cost(pattern, text_of(unit, n)) for n in SCREEN)
        screened.append((unit, small, large))
    by_cost = sorted(screened, key=lambda s: -s[2])[:keep]
    by_growth = sorted((s for s in screened if s[2] > 2e-4),
                       key=lambda s: -s[2] / max(s[1], 1e-6))[:keep]
    findings = []
    for unit in dict.fromkeys(s[0] for s in (*by_cost, *by_growth)):
        times = tuple(cost(pattern, text_of(unit, n), runs=3) for n in SIZES)
        findings.append(Finding(name, pattern, unit, times))
    return max(findings, key=lambda f: (round(f.growth, 1), f.times[-1]))


def grows(finding: Finding) -> bool:
    """Faster than the text, beyond timing noise: quadratic is 4 per doubling."""
    return finding.growth > 2.6 and finding.times[-1] > 1e-3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--top", type=int, default=40, help="rows of the ranking printed")
    ap.add_argument("--classify", action="store_true",
                    help="also time classify() on each growing pattern's worst text")
    ap.add_argument("--rules", type=Path, default=None,
                    help="a classification rule file (default: the settings')")
    ap.add_argument("--match", default="", help="only patterns whose name holds this")
    args = ap.parse_args()
    patterns = [(n, p) for n, p in every_pattern(args.rules) if args.match in n]
    print(f"{len(patterns)} distinct patterns", flush=True)
    started = time.process_time()
    findings = sorted((worst(name, pattern) for name, pattern in patterns),
                      key=lambda f: (-round(f.growth, 1), -f.times[-1]))
    print(f"screened in {time.process_time() - started:.0f} CPU-s\n")
    print(f"{'growth':>6} {'t(1000)':>9} {'t(2000)':>9} {'t(4000)':>9}  worst text  pattern")
    for f in findings[:args.top]:
        shown = f.unit if len(f.unit) <= 8 else f.unit[:8] + "…"
        print(f"{f.growth:6.2f} " + " ".join(f"{t * 1e3:7.2f}ms" for t in f.times)
              + f"  {shown!r}×  {f.name}")
    growing = [f for f in findings if grows(f)]
    slowest = max(findings, key=lambda f: f.times[-1])
    print(f"\n{len(growing)} of {len(findings)} grow faster than the text (growth > 2.6, "
          f"t(4000) > 1 ms); slowest at 4,000: {slowest.times[-1] * 1e3:.2f} ms "
          f"({slowest.name}, {slowest.unit[:8]!r}×)")
    if args.classify:
        # The worst texts of the patterns that grow and of the ten costliest, through the
        # whole classifier: its own Python work per cue may grow too (redos39 found a scan
        # of every everyday word per cue).
        rules = load_rules(args.rules)
        classify("热身", rules)
        costliest = sorted(findings, key=lambda f: -f.times[-1])[:10]
        print("\nclassify() on the worst texts, CPU-s at 2,000 and 8,000 characters:")
        for f in {id(f): f for f in (*growing, *costliest)}.values():
            spent = []
            for n in (2000, 8000):
                start = time.process_time()
                classify(text_of(f.unit, n), rules)
                spent.append(time.process_time() - start)
            print(f"{(spent[1] / max(spent[0], 1e-6)) ** 0.5:6.2f} {spent[0]:7.3f} {spent[1]:7.3f}"
                  f"  {f.unit[:8]!r}×  ({f.name})")

if __name__ == "__main__":
    main()
