"""5-fold cross-validation of the intake model over the training data, with and without new
labelled lines, on fixed folds (issue 15, third round).

Run by hand::

    .venv/bin/python bench/traindata_cv.py                       # before: train.tsv + shared
    .venv/bin/python bench/traindata_cv.py --extra data/intake/train-new.tsv
    .venv/bin/python bench/traindata_cv.py --extra data/intake/train-new.tsv --extra-train-only

The original rows (data/intake/train.tsv, then ../shared/corpus/complaints*.tsv) are split
into folds exactly as ``ticketing.intake_eval.cross_validate`` splits them (seed 0), with or
without ``--extra``, so "original rows" figures compare before and after on the same texts
with the same folds. Extra rows get their own shuffle (same seed) into the same number of
folds; ``--extra-train-only`` keeps them on the training side of every fold (never scored).
Each fold's model scores its test texts clean and in recogniser style (ticketing.degrade,
seed 0), as ``hotline classify eval --cv`` does, but with one training per fold.

Prints the summary figures for all scored rows, the original rows only and the extra rows
only, and the most frequent confusions per field. Only the training data is ever read: the
held-out files are never scored here. ``--dump FILE`` writes every scored row's labels and
predictions as JSON lines, to look at the misses. ``--fields kind`` keeps only those labels
(the other fields' classifiers are not trained, which makes a kind-only CV several times
quicker and gives the same kind predictions: each field has its own classifier) and prints
their full confusion matrices. ``--hold-out FILE`` (one of the original sources, e.g.
``../shared/corpus/complaints-2.tsv``) runs no folds: one model trained on every other row
(and the extra rows) scores that file, clean and in recogniser style.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console

from hotline.classify_cli import _print_field, _summary_table
from ticketing.classify import Classification, classify, load_rules
from ticketing.degrade import degrade
from ticketing.intake_eval import evaluate
from ticketing.intake_model import (
    DECISION,
    FIELDS,
    IntakeModel,
    LabelledText,
    Understanding,
    decide,
    floored,
    read_labelled,
    shipped_sources,
    understand,
)

console = Console(width=140)


def _folds(n: int, folds: int, seed: int) -> list[int]:
    """Fold of each row, as cross_validate assigns it (order[k::folds] is fold k)."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    fold = [0] * n
    for j, i in enumerate(order):
        fold[i] = j % folds
    return fold


def _confusions(rows: list[LabelledText], results: list[Understanding], top: int) -> None:
    for name in (*FIELDS,):
        pairs = Counter((r.labels[name], getattr(u, name) or "")
                        for r, u in zip(rows, results, strict=True)
                        if name in r.labels and r.labels[name] != (getattr(u, name) or ""))
        shown = ", ".join(f"{w}->{g} {c}" for (w, g), c in pairs.most_common(top))
        console.print(f"  {name} misses ({sum(pairs.values())}): {shown}")


def _per_class(report: dict[str, Any], n_report: dict[str, Any] | None) -> None:
    """Recall and precision of each urgency level: the 24-hour class is the one a summary
    accuracy hides (issue 15, fifth round)."""
    if "urgency" not in report["fields"]:  # --fields without urgency
        return
    for level, (precision, recall, support) in report["fields"]["urgency"].per_class.items():
        line = f"  urgency {level} ({support}): recall {recall:.1%}, precision {precision:.1%}"
        if n_report:
            n_precision, n_recall, _ = n_report["fields"]["urgency"].per_class[level]
            line += f" / recogniser-style {n_recall:.1%}, {n_precision:.1%}"
        console.print(line)


def _report(title: str, rows: list[LabelledText], clean: list[Understanding],
            noisy: list[Understanding] | None, fields: list[str] | None) -> None:
    report = evaluate(rows, clean)
    n_report = evaluate(rows, noisy) if noisy is not None else None
    console.print(_summary_table(f"{title} ({len(rows)}): clean"
                                 + (" / recogniser-style" if n_report else ""),
                                 report["summary"], n_report["summary"] if n_report else None))
    _per_class(report, n_report)
    _confusions(rows, clean, 12)
    for name in fields or ():
        if name in report["fields"]:
            _print_field(report["fields"][name])


def _hold_out(train: list[LabelledText], held: list[LabelledText], args: argparse.Namespace,
              rules: Any) -> None:
    """One model on ``train``, scored on ``held`` (a file it never saw)."""
    if args.fields:
        held = [LabelledText(r.text, {f: v for f, v in r.labels.items() if f in args.fields})
                for r in held]
    console.print(f"{len(train)} training rows, {len(held)} held-out rows ({args.hold_out})")
    model = IntakeModel.train(train, rules)
    clean = [understand(r.text, rules, model) for r in held]
    noisy = (None if args.no_degraded
             else [understand(degrade(r.text), rules, model) for r in held])
    _report("held-out file", held, clean, noisy, args.fields)


def _seen(text: str, rules: Any, model: IntakeModel) -> dict[str, Any]:
    ruled = classify(text, rules)
    return {"probabilities": model.probabilities(text, ruled),
            "ruled": {"urgency": ruled.urgency, "emergency": ruled.emergency,
                      "matched": list(ruled.matched)}}


def _decided(seen: dict[str, Any], decision: dict[str, float]) -> tuple[str, str]:
    """Urgency and emergency as ``understand`` decides them under ``decision``."""
    ruled = seen["ruled"]
    guess = decide(seen["probabilities"], ruled["matched"], decision)
    floor = Classification(category="other", urgency=ruled["urgency"], district=None,
                           address=None, subject="", matched=tuple(ruled["matched"]),
                           emergency=ruled["emergency"])
    return floored(guess["urgency"][0], guess["emergency"][0], floor)


def _sweep(rows: list[dict[str, Any]]) -> None:
    """Urgency and emergency figures of the stored CV probabilities under other thresholds
    (``DECISION``): the thresholds are chosen on these, never on a held-out file."""
    urgent_grid = (0.1, 0.12, 0.14, 0.15, 0.16, 0.18, 0.2, 0.22, 0.25, 0.3, 0.35, 0.4, 0.5)
    emergency_grid = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)
    for style in ("clean", "noisy"):
        if not all(style in r["seen"] for r in rows):
            continue
        labelled = [(r["labels"].get("urgency"), r["labels"].get("emergency"), r["seen"][style])
                    for r in rows]
        n_urgent = sum(u == "urgent" for u, _, _ in labelled)
        n_emergency = sum(e not in (None, "none") for _, e, _ in labelled)
        console.print(f"sweep, {style} ({len(labelled)} rows, {n_urgent} urgent, "
                      f"{n_emergency} emergencies); shipped {DECISION}")
        for key, grid in (("urgent", urgent_grid), ("emergency", emergency_grid)):
            for value in grid:
                got = [(_decided(seen, {**DECISION, key: value}), u, e)
                       for u, e, seen in labelled]
                right = sum(g[0] == u for g, u, _ in got)
                missed = sum(u == "urgent" and g[0] != "urgent" for g, u, _ in got)
                false_urgent = sum(u != "urgent" and g[0] == "urgent" for g, u, _ in got)
                # As intake_eval.evaluate counts them: a flag is right when the text is an
                # emergency at all; rows without an emergency label are left out.
                flagged = [e for g, _, e in got if e is not None and g[1] != "none"]
                caught = sum(e != "none" for e in flagged)
                hits = sum(e not in (None, "none") and g[1] != "none" for g, _, e in got)
                console.print(
                    f"  {key} {value:.2f}: urgency {right / len(got):.1%}, missed urgent "
                    f"{missed}, false urgent {false_urgent}, 8*missed+false "
                    f"{8 * missed + false_urgent}; emergency recall "
                    f"{hits / max(n_emergency, 1):.1%}, precision "
                    f"{caught / max(len(flagged), 1):.1%} ({len(flagged)} flags)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--extra", type=Path, action="append", default=[],
                        help="labelled TSV added to the original rows")
    parser.add_argument("--extra-train-only", action="store_true",
                        help="extra rows only ever on the training side")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-degraded", action="store_true")
    parser.add_argument("--dump", type=Path, help="JSON lines of every scored row")
    parser.add_argument("--fields", nargs="+", choices=[*FIELDS, "district"],
                        help="train and score only these labels (e.g. kind)")
    parser.add_argument("--sweep", action="store_true",
                        help="figures of other urgent/emergency thresholds on the CV")
    parser.add_argument("--sweep-dump", type=Path,
                        help="no folds: sweep the thresholds over a --dump file")
    parser.add_argument("--hold-out", type=Path,
                        help="an original source never trained on: score it, no folds")
    args = parser.parse_args()

    if args.sweep_dump:
        with args.sweep_dump.open(encoding="utf-8") as fh:
            _sweep([row for row in map(json.loads, fh) if row["original"]])
        return
    rules = load_rules()
    held = args.hold_out.resolve() if args.hold_out else None
    original = [r for p in shipped_sources() if p.exists() and p.resolve() != held
                for r in read_labelled(p)]
    extra = [r for p in args.extra for r in read_labelled(p)]
    if args.fields:
        original, extra = ([LabelledText(r.text, {f: v for f, v in r.labels.items()
                                                  if f in args.fields}) for r in part]
                           for part in (original, extra))
    if held is not None:
        _hold_out(original + extra, read_labelled(held), args, rules)
        return
    fold_of = _folds(len(original), args.folds, args.seed)
    extra_fold = ([-1] * len(extra) if args.extra_train_only
                  else _folds(len(extra), args.folds, args.seed))
    rows = original + extra
    folds = fold_of + extra_fold
    console.print(f"{len(original)} original rows, {len(extra)} extra rows"
                  f"{' (training side only)' if args.extra_train_only else ''}, "
                  f"{args.folds} folds, seed {args.seed}")

    clean: list[Understanding | None] = [None] * len(rows)
    noisy: list[Understanding | None] = [None] * len(rows)
    # What the fold's model and the rules said of each text, for --dump and --sweep.
    seen: list[dict[str, Any]] = [{} for _ in rows]
    started = time.perf_counter()
    for k in range(args.folds):
        model = IntakeModel.train([r for r, f in zip(rows, folds, strict=True) if f != k],
                                  rules)
        for i, f in enumerate(folds):
            if f == k:
                clean[i] = understand(rows[i].text, rules, model)
                seen[i]["clean"] = _seen(rows[i].text, rules, model)
                if not args.no_degraded:
                    noisy_text = degrade(rows[i].text)
                    noisy[i] = understand(noisy_text, rules, model)
                    seen[i]["noisy"] = _seen(noisy_text, rules, model)
        console.print(f"fold {k + 1}/{args.folds} done, {time.perf_counter() - started:.0f} s")

    scored = [i for i, f in enumerate(folds) if f >= 0]
    parts = {"all scored rows": scored,
             "original rows": [i for i in scored if i < len(original)],
             "extra rows": [i for i in scored if i >= len(original)]}
    for title, idx in parts.items():
        if not idx or (title == "all scored rows" and len(idx) == len(parts["original rows"])):
            continue
        _report(title, [rows[i] for i in idx], [clean[i] for i in idx],  # type: ignore[misc]
                None if args.no_degraded else [noisy[i] for i in idx],  # type: ignore[misc]
                args.fields)

    if args.dump:
        with args.dump.open("w", encoding="utf-8") as fh:
            for i in scored:
                u = clean[i]
                assert u is not None
                fh.write(json.dumps({
                    "i": i, "original": i < len(original), "text": rows[i].text,
                    "labels": rows[i].labels,
                    "got": {f: getattr(u, f) for f in (*FIELDS, "district")},
                    "confidence": u.confidence, "matched": list(u.matched),
                    "noisy": ({f: getattr(noisy[i], f) for f in FIELDS}
                              if noisy[i] is not None else None),
                    "seen": seen[i],
                }, ensure_ascii=False) + "\n")
    if args.sweep:
        _sweep([{"labels": rows[i].labels, "seen": seen[i]} for i in scored
                if i < len(original)])


if __name__ == "__main__":
    main()
