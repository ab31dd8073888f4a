"""Figures of the intake classifier (the shipped model + rules, and rules alone), and its speed.

Run by hand: ``.venv/bin/python bench/classify.py [--quick]``. Prints, each for clean text
and for the same text written like recogniser output (ticketing.degrade, seed 0):

1. the shipped model (data/intake/model/, as a fresh install loads it) on each evaluation
   file (``ticketing.intake_model.evaluation_sources``: heldout-23 and later, written blind
   one a round, never trained on); the older held-out files are training sources
   (``shipped_sources``) and scored here no more, their figures would be in-sample;
2. the shipped model on bench/data/heldout.tsv: 61 complaints written for this project
   before any model existed (a fifth in recogniser style), never trained on;
3. the shared corpus (../shared/corpus/complaints*.tsv, 280 lines) by 5-fold
   cross-validation: each fifth scored by a model trained on data/intake/train.tsv plus the
   other four fifths, so no shared line is ever scored by a model that saw it;
4. rules alone on 1 and 2, for comparison;
5. milliseconds per text for rules alone and for model + rules (target ≤ 5 ms), over the
   262 texts of data/intake/heldout.tsv and bench/data/heldout.tsv and their recogniser-style
   copies (timed only, never scored; the texts the earlier rounds' figures were timed on,
   less heldout.tsv's two lines dropped in the sixteenth round as near copies).

``--quick`` skips 3 (five trainings, the slowest part). ``--speed-only`` runs 5 (and 5c)
alone and prints no figure of any held-out file: for timing a model while the held-out
files must not be looked at (its texts are only timed). ``--compare DIR`` also times the
model in DIR (a shipped-model directory, e.g. the previous commit's data/intake/model/
extracted with ``git show``) in alternating rounds with the current one, so both are timed
under the same load.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console

from hotline.classify_cli import _summary_table
from ticketing.classify import classify, load_rules
from ticketing.degrade import degrade
from ticketing.intake_eval import evaluate, predict_all
from ticketing.intake_model import (
    SHIPPED_DIR,
    IntakeModel,
    LabelledText,
    ModelStore,
    evaluation_sources,
    read_labelled,
    understand,
)

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "data/intake/train.tsv"
BENCH_HELDOUT = ROOT / "bench/data/heldout.tsv"
# Timed in step 5 (a training source since the sixteenth round: its texts are only timed).
TIMED = [ROOT / "data/intake/heldout.tsv", BENCH_HELDOUT]
CORPUS = [ROOT.parent / "shared/corpus/complaints.tsv",
          ROOT.parent / "shared/corpus/complaints-2.tsv"]
console = Console(width=120)


def report(title: str, rows: list[LabelledText], predict) -> None:
    clean = evaluate(rows, predict_all(rows, predict))
    noisy = evaluate(rows, predict_all(rows, predict, degrade))
    console.print(_summary_table(f"{title} ({len(rows)} texts)", clean["summary"],
                                 noisy["summary"]))


def shared_cross_validation(rules, folds: int = 5) -> None:
    corpus = [row for path in CORPUS for row in read_labelled(path)]
    own = read_labelled(TRAIN)
    order = list(range(len(corpus)))
    random.Random(0).shuffle(order)
    clean: list = [None] * len(corpus)
    noisy: list = [None] * len(corpus)
    for k in range(folds):
        test = set(order[k::folds])
        model = IntakeModel.train(own + [corpus[i] for i in order if i not in test], rules)
        for i in test:
            clean[i] = understand(corpus[i].text, rules, model)
            noisy[i] = understand(degrade(corpus[i].text), rules, model)
    console.print(_summary_table(
        f"3. shared corpus, {folds}-fold CV (train.tsv + 4/5 of the corpus) "
        f"({len(corpus)} texts)", evaluate(corpus, clean)["summary"],
        evaluate(corpus, noisy)["summary"]))


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


def main(quick: bool, compare: Path | None = None, speed_only: bool = False) -> None:
    rules = load_rules()
    model = ModelStore(ROOT / "var/nonexistent", shipped=SHIPPED_DIR).load_current()
    assert model is not None, "no shipped model in data/intake/model/"
    console.print(f"shipped model: {model.info['rows']} training texts, "
                  f"sha256 {model.info['sha256'][:12]}")
    if not speed_only:
        figures(rules, model, quick)
    speed(rules, model, [r for path in TIMED for r in read_labelled(path)], compare)


def figures(rules, model: IntakeModel, quick: bool) -> None:
    scored = [*(("1", path) for path in evaluation_sources()), ("2", BENCH_HELDOUT)]
    rows = {path: read_labelled(path) for _, path in scored}
    for step, path in scored:
        report(f"{step}. shipped model, {path.relative_to(ROOT)}", rows[path],
               lambda t: understand(t, rules, model))
    if not quick:
        shared_cross_validation(rules)
    for _, path in scored:
        report(f"4. rules alone, {path.relative_to(ROOT)}", rows[path],
               lambda t: understand(t, rules))


def speed(rules, model: IntakeModel, timed: list[LabelledText], compare: Path | None) -> None:
    texts = [r.text for r in timed]
    texts += [degrade(t) for t in texts]
    for name, fn in (("rules alone", lambda t: classify(t, rules)),
                     ("model + rules", lambda t: understand(t, rules, model))):
        mean, p99 = per_text_ms(fn, texts)
        console.print(f"5. {name}: {mean:.2f} ms per text (p99 {p99:.2f} ms) "
                      f"over {len(texts)} texts x 5")
    if compare is not None:
        other = ModelStore(ROOT / "var/nonexistent", shipped=compare).load_current()
        assert other is not None, f"no model in {compare}"
        for round_ in range(3):
            for name, m in (("compared", other), ("current", model)):
                mean, p99 = per_text_ms(lambda t, m=m: understand(t, rules, m), texts, rounds=1)
                console.print(f"5c. round {round_ + 1}, {name} model + rules: {mean:.2f} ms per "
                              f"text (p99 {p99:.2f} ms) over {len(texts)} texts")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(quick="--quick" in args,
         compare=Path(args[args.index("--compare") + 1]) if "--compare" in args else None,
         speed_only="--speed-only" in args)
