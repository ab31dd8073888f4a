"""Figures for the intake classifier: accuracy, per-class precision/recall, confusion.

Used by ``hotline classify eval`` and ``hotline classify train`` (whose metrics go into the
model pointer) and by bench/classify.py. Pure computation; printing is the CLI's job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ticketing.classify import ClassificationRules
from ticketing.intake_model import FIELDS, IntakeModel, LabelledText, Understanding, understand

__all__ = ["FieldReport", "cross_validate", "evaluate", "predict_all"]

SCORED = (*FIELDS, "district")


@dataclass(frozen=True)
class FieldReport:
    name: str
    n: int
    accuracy: float
    per_class: dict[str, tuple[float, float, int]]  # label -> (precision, recall, support)
    confusion: dict[tuple[str, str], int]  # (want, got) -> count


def _field_report(name: str, pairs: Sequence[tuple[str, str]]) -> FieldReport:
    n = len(pairs)
    correct = sum(want == got for want, got in pairs)
    labels = sorted({w for w, _ in pairs} | {g for _, g in pairs})
    per_class = {}
    for label in labels:
        tp = sum(w == label and g == label for w, g in pairs)
        predicted = sum(g == label for _, g in pairs)
        support = sum(w == label for w, _ in pairs)
        per_class[label] = (tp / predicted if predicted else 0.0,
                            tp / support if support else 0.0, support)
    return FieldReport(name=name, n=n, accuracy=correct / n if n else 0.0,
                       per_class=per_class, confusion=dict(Counter(pairs)))


def predict_all(rows: Sequence[LabelledText], predict: Callable[[str], Understanding],
                transform: Callable[[str], str] | None = None) -> list[Understanding]:
    return [predict(transform(r.text) if transform else r.text) for r in rows]


def evaluate(rows: Sequence[LabelledText], results: Sequence[Understanding]) -> dict[str, Any]:
    """Metrics of ``results`` against the labels of ``rows`` (only fields the file labels)."""
    reports: dict[str, FieldReport] = {}
    for name in SCORED:
        pairs = [
            (row.labels[name], getattr(res, name) or "")
            for row, res in zip(rows, results, strict=True)
            if name in row.labels
        ]
        if pairs:
            reports[name] = _field_report(name, pairs)
    summary: dict[str, Any] = {name: round(r.accuracy, 4) for name, r in reports.items()}
    summary["n"] = len(rows)
    if "urgency" in reports:
        urgent = [(row, res) for row, res in zip(rows, results, strict=True)
                  if row.labels.get("urgency") == "urgent"]
        summary["urgent_recall"] = _ratio(sum(r.urgency == "urgent" for _, r in urgent),
                                          len(urgent))
        summary["urgent_total"] = len(urgent)
    if "emergency" in reports:
        labelled = [(row.labels["emergency"], res.emergency)
                    for row, res in zip(rows, results, strict=True) if "emergency" in row.labels]
        # An emergency is caught when flagged at all; the service named is the accuracy figure.
        real = [(w, g) for w, g in labelled if w != "none"]
        flagged = [(w, g) for w, g in labelled if g != "none"]
        summary["emergency_recall"] = _ratio(sum(g != "none" for _, g in real), len(real))
        summary["emergency_precision"] = _ratio(sum(w != "none" for w, _ in flagged),
                                                len(flagged))
        summary["emergency_total"] = len(real)
        summary["emergency_flagged"] = len(flagged)
    for name in FIELDS:
        scored = [(res.confidence[name], getattr(res, name) == row.labels[name])
                  for row, res in zip(rows, results, strict=True)
                  if name in res.confidence and name in row.labels]
        if scored:
            summary[f"{name}_calibration_error"] = round(_ece(scored), 4)
    summary["needs_confirmation"] = _ratio(sum(r.needs_confirmation for r in results),
                                           len(results))
    return {"summary": summary, "fields": reports}


def _ece(scored: Sequence[tuple[float, bool]], bins: int = 5) -> float:
    """Expected calibration error: how far stated confidence is from the hit rate, averaged
    over confidence bins weighted by their size (0 = perfectly calibrated)."""
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [(p, ok) for p, ok in scored if lo < p <= hi or (b == 0 and p == 0)]
        if inside:
            mean_p = sum(p for p, _ in inside) / len(inside)
            hit = sum(ok for _, ok in inside) / len(inside)
            total += len(inside) / len(scored) * abs(mean_p - hit)
    return total


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def cross_validate(rows: Sequence[LabelledText], rules: ClassificationRules, *, folds: int = 5,
                   seed: int = 0, confirm_below: float = 0.5,
                   transform: Callable[[str], str] | None = None) -> dict[str, Any]:
    """Train on k-1 folds, predict the held-out fold, score all predictions together."""
    import random

    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    results: list[Understanding | None] = [None] * len(rows)
    for k in range(folds):
        test = set(order[k::folds])
        model = IntakeModel.train([rows[i] for i in order if i not in test], rules)
        for i in test:
            text = transform(rows[i].text) if transform else rows[i].text
            results[i] = understand(text, rules, model, confirm_below=confirm_below)
    return evaluate(rows, [r for r in results if r is not None])
