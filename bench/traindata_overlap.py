"""How close each line of a new labelled file is to the existing data: the share of
character trigrams it has in common with its nearest line (the near-copy measure of
tests/ticketing/test_intake_shipped.py) in each group of files, and with the other new lines.

Run by hand: ``.venv/bin/python bench/traindata_overlap.py data/intake/train-new.tsv
[--also FILE ...] [--limit 0.3] [--all]``. Prints only the figure, the group it was
found in and the NEW line: the held-out lines are never printed, so a writer can rewrite
an offender without reading what it came near. Exits 1 when a line reaches the limit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.ticketing.test_intake_shipped import (
    BENCH_HELDOUT,
    SHARED_FILES,
    TRAINING,
    _key,
    _trigrams,
)
from ticketing.intake_model import evaluation_sources, read_labelled

GROUPS: dict[str, list[Path]] = {
    # train.tsv and the older held-out files folded into training (sixteenth round).
    "train": TRAINING,
    "shared": SHARED_FILES,
    "held-out": [*evaluation_sources(), BENCH_HELDOUT],
}


def _closest(mine: set[str], others: list[set[str]]) -> float:
    return max((len(mine & g) / len(mine | g) for g in others if mine | g), default=0.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("new", type=Path)
    parser.add_argument("--also", type=Path, action="append", default=[],
                        help="another file to compare with (group 'also'; never printed)")
    parser.add_argument("--limit", type=float, default=0.3)
    parser.add_argument("--all", action="store_true", help="print every line's figures")
    args = parser.parse_args()

    groups = {**GROUPS, "also": args.also}
    grams = {name: [_trigrams(r.text) for p in paths if p.exists() for r in read_labelled(p)]
             for name, paths in groups.items()}
    keys = {_key(r.text) for paths in groups.values() for p in paths if p.exists()
            for r in read_labelled(p)}
    new = [r.text for r in read_labelled(args.new)]
    new_grams = [_trigrams(t) for t in new]
    bad = 0
    worst = 0.0
    for n, (text, mine) in enumerate(zip(new, new_grams, strict=True), start=2):
        figures = {name: _closest(mine, g) for name, g in grams.items() if g}
        figures["new"] = _closest(mine, new_grams[:n - 2] + new_grams[n - 1:])
        top = max(figures, key=lambda k: figures[k])
        worst = max(worst, figures[top])
        over = figures[top] >= args.limit or _key(text) in keys
        bad += over
        if over or args.all:
            shown = " ".join(f"{k} {v:.2f}" for k, v in figures.items())
            print(f"{'OVER ' if over else ''}line {n}: {shown}  | {text}")
    print(f"{len(new)} lines, {bad} at or over {args.limit:.0%} (or an exact copy); "
          f"highest overlap {worst:.2f}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
