"""District figures of the rules' gazetteer ([districts]/[areas] of config/classification.toml).

Run by hand: ``.venv/bin/python bench/places.py [--names] [--no-timing]``. On
data/intake/train.tsv plus the shared corpus (../shared/corpus/complaints*.tsv) it prints:

1. district accuracy on clean text and on the same text in recogniser style
   (ticketing.degrade, seeds 0, 1 and 2): over all texts, then over the texts that name a
   district ("named": the share of those found right), with the errors split into missed (a
   district labelled, none found), wrong (another district found) and false (none labelled,
   one found);
2. with ``--names``: every name the look-up reads (as written in the clean lines, by sound
   in the recogniser-style ones) in a line labelled with another district, or with none: a
   name that hits where the label is another district is wrong or ambiguous;
3. milliseconds per text: the district look-up alone, the whole rule pass (classify) and
   ``understand`` with the shipped model, over the clean and recogniser-style texts.

The held-out files are never read here.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import classify as classify_bench  # bench/classify.py: one timing loop for both benches

from ticketing.classify import (
    _district,
    _misspelt,
    _normalize,
    _scan,
    classify,
    load_rules,
)
from ticketing.degrade import degrade
from ticketing.intake_model import SHIPPED_DIR, LabelledText, ModelStore, read_labelled, understand
from ticketing.pinyin import syllable

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "data/intake/train.tsv",
           ROOT.parent / "shared/corpus/complaints.tsv",
           ROOT.parent / "shared/corpus/complaints-2.tsv"]
SEEDS = (0, 1, 2)


def score(rows: list[LabelledText], texts: list[str], find: Callable[[str], str | None]) -> str:
    counts: Counter[str] = Counter()
    for row, text in zip(rows, texts, strict=True):
        want, got = row.labels.get("district", ""), find(text) or ""
        if want == got:
            counts["right"] += 1
        elif not got:
            counts["missed"] += 1
        elif not want:
            counts["false"] += 1
        else:
            counts["wrong"] += 1
    named = sum(bool(r.labels.get("district")) for r in rows)
    found = 1 - (counts["missed"] + counts["wrong"]) / named
    return (f"{counts['right'] / len(rows):6.1%}  named {found:6.1%}  (missed "
            f"{counts['missed']}, wrong {counts['wrong']}, false {counts['false']})")


def audit_names(rows: list[LabelledText], noisy: list[str], rules) -> None:
    """Names the look-up reads in lines labelled otherwise: wrong, ambiguous or a common
    word. Every name it reads counts (not only the one that decides), as written in the clean
    lines and by sound (close enough in writing to pass for it misspelt) in the
    recogniser-style ones."""
    index = rules.places
    other: Counter[str] = Counter()
    unlabelled: Counter[str] = Counter()
    sample: dict[str, str] = {}
    labels = [r.labels.get("district", "") for r in rows]
    clean = [("".join(_normalize(r.text).split()), label)
             for r, label in zip(rows, labels, strict=True)]
    heard = [("".join(_normalize(t).split()), labels[i % len(rows)])
             for i, t in enumerate(noisy)]
    for text, label in clean:
        hits = [p for _, _, p in _scan(text, index.by_char)]
        _count(hits, text, label, other, unlabelled, sample)
    for text, label in heard:
        hits = [p for _, _, p in _scan(tuple(syllable(c) for c in text), index.by_sound,
                                       lambda i, p, t=text: _misspelt(t[i:i + len(p.name)],
                                                                      p.name))]
        _count(hits, text, label, other, unlabelled, sample)
    print("\nnames read in lines labelled with another district / with none:")
    for cue in sorted({*other, *unlabelled}):
        print(f"  {cue}: other {other[cue]}, none {unlabelled[cue]}  e.g. {sample[cue][:60]}")
    print(f"  {len({*other, *unlabelled})} of {len(rules.areas)} area names + 16 districts "
          "flagged")


def _count(hits: list, text: str, label: str, other: Counter[str], unlabelled: Counter[str],
           sample: dict[str, str]) -> None:
    for place in hits:
        if place.district is None or place.district == label:
            continue
        (other if label else unlabelled)[place.cue] += 1
        sample.setdefault(place.cue, text)


def per_text_ms(fn: Callable[[str], object], texts: list[str]) -> float:
    return classify_bench.per_text_ms(fn, texts, rounds=3)[0]  # the mean


def main(names: bool, timing: bool) -> None:
    rules = load_rules()
    rows = [row for path in SOURCES for row in read_labelled(path)]
    labelled = sum(bool(r.labels.get("district")) for r in rows)
    print(f"{len(rows)} texts ({labelled} with a district), {len(rules.areas)} area names")

    def find(text: str) -> str | None:
        return _district(_normalize(text), rules)[0]

    clean = [r.text for r in rows]
    print(f"clean:          {score(rows, clean, find)}")
    noisy_all: list[str] = []
    for seed in SEEDS:
        noisy = [degrade(t, seed=seed) for t in clean]
        noisy_all += noisy
        print(f"recogniser s={seed}: {score(rows, noisy, find)}")
    print(f"recogniser all: {score(rows * len(SEEDS), noisy_all, find)}")
    if names:
        audit_names(rows, noisy_all, rules)
    if timing:
        model = ModelStore(ROOT / "var/nonexistent", shipped=SHIPPED_DIR).load_current()
        texts = clean[::4] + noisy_all[::12]
        norm = [_normalize(t) for t in texts]
        ms = per_text_ms(lambda t: _district(t, rules), norm)
        print(f"\ndistrict look-up: {ms:.3f} ms per text over {len(texts)} texts x 3")
        ms = per_text_ms(lambda t: classify(t, rules), texts)
        print(f"classify (all rules): {ms:.3f} ms per text")
        if model is not None:
            ms = per_text_ms(lambda t: understand(t, rules, model), texts)
            print(f"understand (shipped model + rules): {ms:.3f} ms per text")


if __name__ == "__main__":
    main(names="--names" in sys.argv[1:], timing="--no-timing" not in sys.argv[1:])
