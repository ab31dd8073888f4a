"""How the "says too little" rule (ticketing/substance.py, config/too_little.toml) splits
short calls, and how many real complaints it would hold.

    python bench/too_little.py

1. Short texts labelled `nothing` (greetings, line checks, openings without content,
   testers, keyboard mash, digits, single words) or `something` (two to seven characters
   that name a problem, emergencies among them), scored through `Domain.understand` on the
   shipped settings, so the emergency exemption counts. bench/data/too_little.tsv was
   written after the rule and scored once; its misses changed the exemption (the model's
   urgent guess no longer exempts: docs/classification.md), so it is seen now.
   bench/data/too_little-2.tsv was written after that change and scored once, unseen.
2. Every labelled complaint file (train.tsv, the held-out files, the bench file, the shared
   corpus): how many would be held. None of them was written to be empty.
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import get_settings  # noqa: E402
from ticketing.context import Domain  # noqa: E402
from ticketing.intake_model import read_labelled, shipped_sources  # noqa: E402


def score(domain: Domain, path: Path) -> None:
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    held = {says: [r for r in rows if r["says"] == says
                   and domain.understand(r["text"]).too_little]
            for says in ("nothing", "something")}
    total = {says: sum(r["says"] == says for r in rows) for says in held}
    print(f"{path.name}: 'nothing' held {len(held['nothing'])}/{total['nothing']}, "
          f"'something' held {len(held['something'])}/{total['something']}")
    kept = {r["text"] for r in held["nothing"]}
    for row in rows:
        if (row["says"] == "nothing") != (row["text"] in kept) or row in held["something"]:
            print(f"  wrong: {row['text']!r} ({row['says']}, {row['note']})")


def main() -> None:
    domain = Domain.load(get_settings())
    for name in ("too_little.tsv", "too_little-2.tsv"):
        score(domain, ROOT / "bench" / "data" / name)
    files = sorted({*shipped_sources(), *(ROOT / "data" / "intake").glob("heldout*.tsv"),
                    ROOT / "bench" / "data" / "heldout.tsv"})
    total = held = 0
    started = time.process_time()
    for path in files:
        if not path.exists():
            continue
        texts = [r.text for r in read_labelled(path)]
        n = sum(domain.substance.too_little(t) for t in texts)
        total, held = total + len(texts), held + n
        print(f"{path.relative_to(path.parent.parent.parent)}: {n} of {len(texts)} held")
    cpu = time.process_time() - started
    print(f"labelled complaints: {held} of {total} held; rule alone {1000 * cpu / total:.3f} "
          f"CPU-ms a text")


if __name__ == "__main__":
    main()
