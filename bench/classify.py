"""Accuracy of ticketing.classify on the shared sample corpus.

Run by hand: ``.venv/bin/python bench/classify.py [path/to/complaints.tsv]``. Prints category,
urgency and district accuracy and every miss, so a rule change can be judged before commit.
"""

from __future__ import annotations

import csv
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ticketing.classify import classify, load_rules

CORPUS = Path(__file__).resolve().parents[1].parent / "shared/corpus/complaints.tsv"


def main(corpus: Path = CORPUS) -> None:
    with corpus.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    rules = load_rules()
    started = time.perf_counter()
    results = [classify(row["text"], rules) for row in rows]
    elapsed = time.perf_counter() - started

    hits: Counter[str] = Counter()
    misses: list[str] = []
    for row, res in zip(rows, results, strict=True):
        for field, got in (
            ("category", res.category),
            ("urgency", res.urgency),
            ("district", res.district),
        ):
            if got == row[field]:
                hits[field] += 1
            else:
                misses.append(f"  {field:8} want {row[field]:11} got {got!s:11} | {row['text']}")

    n = len(rows)
    print(f"corpus: {corpus} ({n} complaints, {elapsed * 1000 / n:.2f} ms each)")
    for field in ("category", "urgency", "district"):
        print(f"{field:9} accuracy: {hits[field] / n:.1%} ({hits[field]}/{n})")
    print(f"misses ({len(misses)}):")
    print("\n".join(misses) if misses else "  none")
    confusion = Counter(
        (row["category"], res.category)
        for row, res in zip(rows, results, strict=True)
        if row["category"] != res.category
    )
    if confusion:
        print("category confusion (want -> got: count):")
        for (want, got), count in confusion.most_common():
            print(f"  {want} -> {got}: {count}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS)
