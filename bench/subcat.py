"""Sub-category (细分类) keyword rules: precision and coverage on hand-written check sentences.

    .venv/bin/python bench/subcat.py [FILE]   # default data/intake/subcat-check.tsv

FILE is a TSV (text, category, sub_category; an empty sub_category means none fits). The
sentences were written after the rules (config/classification.toml, [[sub_category_rules]]),
not used to tune them. Two figures:

* rules: the sub-category rules inside the labelled category, i.e. the rules alone;
* intake: what a ticket gets (Domain.understand: shipped model or rules for the category,
  then the rules inside it), so a wrong category costs the sub-category too.

Precision: right sub-categories / sub-categories given (one given where none fits is wrong).
Coverage: sub-categories given / rows that have one.
"""

from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config import Settings
from ticketing.classify import load_rules, sub_category_of
from ticketing.context import Domain

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "data" / "intake" / "subcat-check.tsv"


def score(pairs: list[tuple[str, str | None]]) -> tuple[int, int, int, int]:
    """(given, right, have, covered) of (gold, predicted) pairs."""
    given = sum(1 for _, p in pairs if p)
    right = sum(1 for g, p in pairs if p and p == g)
    have = sum(1 for g, _ in pairs if g)
    covered = sum(1 for g, p in pairs if g and p)
    return given, right, have, covered


def report(name: str, pairs: list[tuple[str, str | None]]) -> None:
    given, right, have, covered = score(pairs)
    precision = right / given if given else 0.0
    coverage = covered / have if have else 0.0
    print(f"{name:7} precision {right}/{given} = {precision:.1%}   "
          f"coverage {covered}/{have} = {coverage:.1%}   "
          f"right of all with one {right}/{have} = {right / have if have else 0:.1%}")


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    rules = load_rules()
    domain = Domain.load(Settings(database_url="sqlite://", data_dir=Path(tempfile.mkdtemp())))
    by_rules: list[tuple[str, str | None]] = []
    by_intake: list[tuple[str, str | None]] = []
    category_right = 0
    misses: list[str] = []
    for row in rows:
        text, category, gold = row["text"], row["category"], row["sub_category"] or ""
        got, _ = sub_category_of(text, category, rules)
        by_rules.append((gold, got))
        understood = domain.understand(text)
        category_right += understood.category == category
        predicted = understood.sub_category
        if predicted and understood.category != category:
            predicted = f"{understood.category}.{predicted}"  # given, and wrong
        by_intake.append((gold, predicted))
        if got != (gold or None):
            misses.append(f"  {category}/{gold or '-'} -> {got or '-'}: {text}")
    print(f"{path.name}: {len(rows)} sentences, {sum(1 for g, _ in by_rules if g)} with a "
          f"sub-category; intake category right {category_right}/{len(rows)}")
    report("rules", by_rules)
    report("intake", by_intake)
    print("rules wrong or silent:")
    print("\n".join(misses) or "  none")


if __name__ == "__main__":
    main()
