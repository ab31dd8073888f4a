"""Figures of the intake classifier (rules alone and learned model), and its speed.

Run by hand: ``.venv/bin/python bench/classify.py [--quick]``. Prints, for clean and for
recogniser-style text (ticketing.degrade):

1. rules alone on the whole shared corpus (../shared/corpus/complaints*.tsv);
2. 5-fold cross-validation of the model on the corpus' training part (80 %);
3. the model trained on that part, scored on the corpus' held-out part (20 %, chosen by a
   hash of the text, never used to choose features or settings);
4. the same model on bench/data/heldout.tsv: 61 complaints written for this project before
   any model existed, a fifth of them in recogniser style;
5. milliseconds per text for rules alone and for model + rules (target ≤ 5 ms).

``--quick`` skips the cross-validation (the slowest part).
"""

from __future__ import annotations

import hashlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console

from hotline.classify_cli import _summary_table
from ticketing.classify import classify, load_rules
from ticketing.degrade import degrade
from ticketing.intake_eval import cross_validate, evaluate, predict_all
from ticketing.intake_model import IntakeModel, LabelledText, read_labelled, understand

ROOT = Path(__file__).resolve().parents[1]
CORPUS = [ROOT.parent / "shared/corpus/complaints.tsv",
          ROOT.parent / "shared/corpus/complaints-2.tsv"]
HELDOUT = ROOT / "bench/data/heldout.tsv"
console = Console(width=120)


def held_out(row: LabelledText) -> bool:
    return int(hashlib.sha1(row.text.encode()).hexdigest(), 16) % 5 == 0


def report(title: str, rows: list[LabelledText], predict) -> None:
    clean = evaluate(rows, predict_all(rows, predict))
    noisy = evaluate(rows, predict_all(rows, predict, degrade))
    console.print(_summary_table(f"{title} ({len(rows)} texts)", clean["summary"],
                                 noisy["summary"]))


def per_text_ms(fn, texts: list[str], rounds: int = 5) -> tuple[float, float]:
    fn(texts[0])  # first call loads jieba's dictionary
    samples = []
    for _ in range(rounds):
        for text in texts:
            started = time.perf_counter()
            fn(text)
            samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.mean(samples), samples[int(len(samples) * 0.99) - 1]


def main(quick: bool) -> None:
    rules = load_rules()
    corpus = [row for path in CORPUS for row in read_labelled(path)]
    train = [r for r in corpus if not held_out(r)]
    test = [r for r in corpus if held_out(r)]
    mine = read_labelled(HELDOUT)
    console.print(f"corpus {len(corpus)} texts: train part {len(train)}, held-out part "
                  f"{len(test)}; own held-out set {len(mine)}")

    report("1. rules alone, whole corpus", corpus, lambda t: understand(t, rules))
    if not quick:
        cv = cross_validate(train, rules, folds=5)
        cv_noisy = cross_validate(train, rules, folds=5, transform=degrade)
        console.print(_summary_table("2. 5-fold cross-validation, corpus train part",
                                     cv["summary"], cv_noisy["summary"]))
    started = time.perf_counter()
    model = IntakeModel.train(train, rules)
    console.print(f"model trained on {len(train)} texts in {time.perf_counter() - started:.1f} s")
    report("3. model, corpus held-out part", test, lambda t: understand(t, rules, model))
    report("3b. rules alone, corpus held-out part", test, lambda t: understand(t, rules))
    report("4. model, bench/data/heldout.tsv", mine, lambda t: understand(t, rules, model))
    report("4b. rules alone, bench/data/heldout.tsv", mine, lambda t: understand(t, rules))

    texts = [r.text for r in corpus + mine]
    for name, fn in (("rules alone", lambda t: classify(t, rules)),
                     ("model + rules", lambda t: understand(t, rules, model))):
        mean, p99 = per_text_ms(fn, texts)
        console.print(f"5. {name}: {mean:.2f} ms per text (p99 {p99:.2f} ms) "
                      f"over {len(texts)} texts x 5")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
