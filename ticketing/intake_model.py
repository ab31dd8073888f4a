"""Learned intake classifier: category, urgency, 诉求类型 and emergency from the caller's words.

Linear models over character 1–3-grams plus jieba words (TF-IDF) plus what the keyword rules
said (one-hot category, urgency, kind, emergency), one logistic regression per field sharing
those features. Measured by 5-fold cross-validation on the 280 shared complaints, n-grams
alone reach 51 % category (too few examples per class) against 75 % for the rules; n-grams
plus the rules' votes reach 76 % category and 73–75 % urgency, so the model learns when to
trust a rule and the vocabulary the rules lack. Logistic
regression gives probabilities directly; ``predict`` reports the top one as the field's
confidence. The rules in ``config/classification.toml`` stay the floor for what must never
be missed (see ``understand``); district and address stay rule/gazetteer-based.

Models are stored under ``<data_dir>/classifier/``: ``model-<version>.joblib`` per training
run and ``current.json`` naming the one in use with its training-data hash and metrics, so a
bad retrain is undone by pointing back to the previous file.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ticketing.classify import (
    EMERGENCY_SERVICES,
    KINDS,
    URGENCY_LEVELS,
    Classification,
    ClassificationRules,
    category_label,
    classify,
    known_categories,
)

__all__ = [
    "FIELDS",
    "IntakeModel",
    "LabelledText",
    "ModelStore",
    "Understanding",
    "read_labelled",
    "understand",
]

FIELDS: tuple[str, ...] = ("category", "urgency", "kind", "emergency")
FORMAT_VERSION = 1
_SPACES = re.compile(r"\s+")
# Scale of the rules' one-hot votes against the TF-IDF block: enough to carry the category
# when the n-grams are unsure (5-fold CV: 0.5 and 1 within a point; 2 worse on kind).
RULE_VOTE_WEIGHT = 0.5


@dataclass(frozen=True)
class LabelledText:
    text: str
    labels: dict[str, str]  # field -> label; a field absent from the file is absent here


def read_labelled(path: Path) -> list[LabelledText]:
    """Rows of a labelled TSV (header: text, category, urgency, district[, kind, emergency])."""
    with Path(path).open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t")
        if not reader.fieldnames or "text" not in reader.fieldnames:
            raise ValueError(f"{path}: needs a header row with a 'text' column")
        rows = []
        for row in reader:
            text = (row.get("text") or "").strip()
            if not text:
                continue
            labels = {
                f: row[f].strip()
                for f in (*FIELDS, "district")
                if f in row and row[f] is not None and (row[f].strip() or f == "district")
            }
            rows.append(LabelledText(text=text, labels=labels))
    return rows


def data_hash(rows: Iterable[LabelledText]) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(json.dumps([row.text, sorted(row.labels.items())], ensure_ascii=False).encode())
    return h.hexdigest()


def _prepare(text: str) -> str:
    # Recognisers put spaces between words and drop punctuation; make both forms alike.
    text = unicodedata.normalize("NFKC", text)
    return _SPACES.sub("", text)


def _jieba_words(text: str) -> list[str]:
    import jieba

    return [w for w in jieba.lcut(text) if w.strip()]


def _make_vectoriser() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    return FeatureUnion([
        ("chars", TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True,
                                  min_df=1)),
        ("words", TfidfVectorizer(analyzer=_jieba_words, sublinear_tf=True, min_df=1)),
    ])


def _rule_votes(ruled: Sequence[Classification]) -> Any:
    import numpy as np
    from scipy import sparse

    slots = [
        ("category", known_categories()),
        ("urgency", URGENCY_LEVELS),
        ("kind", KINDS),
        ("emergency", EMERGENCY_SERVICES),
    ]
    width = sum(len(values) for _, values in slots)
    votes = np.zeros((len(ruled), width))
    for row, c in enumerate(ruled):
        offset = 0
        for name, values in slots:
            value = getattr(c, name)
            if value in values:
                votes[row, offset + values.index(value)] = RULE_VOTE_WEIGHT
            offset += len(values)
    return sparse.csr_matrix(votes)


@dataclass
class IntakeModel:
    """One vectoriser and one classifier per field that the training file labels."""

    vectoriser: Any
    classifiers: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def train(cls, rows: Sequence[LabelledText], rules: ClassificationRules, *,
              c: float = 10.0) -> IntakeModel:
        from scipy import sparse
        from sklearn.linear_model import LogisticRegression

        if not rows:
            raise ValueError("no labelled rows to train on")
        vectoriser = _make_vectoriser()
        matrix = sparse.hstack([
            vectoriser.fit_transform([_prepare(r.text) for r in rows]),
            _rule_votes([classify(r.text, rules) for r in rows]),
        ]).tocsr()
        classifiers: dict[str, Any] = {}
        counts: dict[str, dict[str, int]] = {}
        for name in FIELDS:
            idx = [i for i, r in enumerate(rows) if r.labels.get(name)]
            labels = [rows[i].labels[name] for i in idx]
            if len(set(labels)) < 2:
                continue  # nothing to learn: the rules decide this field
            # Balanced weights: the rare classes (urgent, 119, praise) are the costly misses.
            clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
            clf.fit(matrix[idx], labels)
            classifiers[name] = clf
            counts[name] = {k: labels.count(k) for k in sorted(set(labels))}
        return cls(vectoriser, classifiers,
                   {"rows": len(rows), "classes": counts, "data_sha256": data_hash(rows)})

    def predict(self, text: str, ruled: Classification) -> dict[str, tuple[str, float]]:
        """field -> (label, probability of that label) for every field the model knows.

        ``ruled`` is what the rules made of the same text (they are features of the model).
        """
        x = self.features(text, ruled)
        out: dict[str, tuple[str, float]] = {}
        for name, clf in self.classifiers.items():
            proba = _probabilities(clf, x)
            best = int(proba.argmax())
            out[name] = (str(clf.classes_[best]), float(proba[best]))
        return out

    def features(self, text: str, ruled: Classification) -> Any:
        """The model's feature row for one text (1 × n sparse), as training built them.

        TF-IDF is computed here from each vectoriser's vocabulary and idf (sublinear tf,
        L2 norm, as configured in _make_vectoriser): sklearn's transform spends ~5 ms per
        call on input validation and joblib for one short text, the arithmetic ~0.1 ms.
        tests/ticketing/test_intake.py checks the row equals sklearn's.
        """
        import numpy as np
        from scipy import sparse

        prepared = _prepare(text)
        columns: list[int] = []
        values: list[float] = []
        offset = 0
        for _, vec in self.vectoriser.transformer_list:
            counts: dict[int, int] = {}
            vocabulary = vec.vocabulary_
            for term in _analyser(vec)(prepared):
                if (j := vocabulary.get(term)) is not None:
                    counts[j] = counts.get(j, 0) + 1
            if counts:
                idx = np.fromiter(counts, dtype=np.int64)
                tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64))
                w = tf * vec.idf_[idx]
                w /= np.sqrt((w * w).sum())
                columns.extend((idx + offset).tolist())
                values.extend(w.tolist())
            offset += len(vocabulary)
        votes = _rule_votes([ruled]).tocoo()
        columns.extend((votes.col + offset).tolist())
        values.extend(votes.data.tolist())
        return sparse.csr_matrix((values, ([0] * len(columns), columns)),
                                 shape=(1, offset + votes.shape[1]))


_ANALYSERS: dict[int, Any] = {}


def _analyser(vec: Any) -> Any:
    # build_analyzer() makes a new closure each call; keep one per vectoriser.
    key = id(vec)
    if key not in _ANALYSERS:
        _ANALYSERS[key] = vec.build_analyzer()
    return _ANALYSERS[key]


def _probabilities(clf: Any, x: Any) -> Any:
    """LogisticRegression.predict_proba for one row, without sklearn's per-call checks
    (tests/ticketing/test_intake.py compares the two)."""
    import numpy as np

    scores = np.asarray(x @ clf.coef_.T).ravel() + clf.intercept_
    if len(clf.classes_) == 2:
        p = 1.0 / (1.0 + np.exp(-scores[0]))
        return np.array([1.0 - p, p])
    scores = np.exp(scores - scores.max())
    return scores / scores.sum()


# --------------------------------------------------------------------------- combination


@dataclass(frozen=True)
class Understanding:
    """What the intake understood of one text, with the confidence of each learned field."""

    category: str
    urgency: str
    kind: str
    emergency: str
    district: str | None
    address: str | None
    subject: str
    confidence: dict[str, float]  # field -> probability; empty when only rules ran
    needs_confirmation: bool
    matched: tuple[str, ...]
    source: str  # "model" or "rules"

    def as_record(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "urgency": self.urgency,
            "kind": self.kind,
            "emergency": self.emergency,
            "district": self.district,
            "address": self.address,
            "confidence": self.confidence,
            "source": self.source,
            "matched": list(self.matched),
        }


def understand(
    text: str,
    rules: ClassificationRules,
    model: IntakeModel | None = None,
    *,
    confirm_below: float = 0.5,
) -> Understanding:
    """Classify one text: the model where trained, the rules as floor and fallback.

    The rules can only raise what the model says, never lower it: a life-safety cue makes
    the ticket urgent, an emergency cue names the service. Low confidence on any learned
    field flags the ticket for an operator (待确认); with rules alone a text that matched
    no category cue is flagged, since "other" then means "not understood".
    """
    ruled = classify(text, rules)
    matched = list(ruled.matched)
    if model is None:
        return Understanding(
            category=ruled.category, urgency=ruled.urgency, kind=ruled.kind,
            emergency=ruled.emergency, district=ruled.district, address=ruled.address,
            subject=ruled.subject, confidence={}, matched=tuple(matched), source="rules",
            needs_confirmation=not any(m.split(":", 1)[0].split(".")[0] == ruled.category
                                       for m in matched),
        )
    guess = model.predict(text, ruled)
    confidence = {name: round(p, 3) for name, (_, p) in guess.items()}
    category = guess.get("category", (ruled.category, 0.0))[0]
    kind = guess.get("kind", (ruled.kind, 0.0))[0]
    emergency = guess.get("emergency", ("none", 0.0))[0]
    if ruled.emergency != "none" and ruled.emergency != emergency:
        emergency = ruled.emergency  # a rule names the hand-over; never dropped
        confidence["emergency"] = 1.0
    urgency = guess.get("urgency", (ruled.urgency, 0.0))[0]
    floor = ruled.urgency if ruled.urgency == "urgent" else None
    if emergency != "none":
        floor = "urgent"
    if floor and URGENCY_LEVELS.index(floor) < URGENCY_LEVELS.index(urgency):
        urgency = floor
        confidence["urgency"] = 1.0
    subject = ruled.subject
    if category != ruled.category:
        # The rules' subject starts with their category label; keep the clause only.
        subject = ruled.subject.split("：", 1)[-1]
        subject = f"{category_label(category)}：{subject}"
    return Understanding(
        category=category, urgency=urgency, kind=kind, emergency=emergency,
        district=ruled.district, address=ruled.address, subject=subject,
        confidence=confidence, matched=tuple(matched), source="model",
        needs_confirmation=any(p < confirm_below for p in confidence.values()),
    )


# --------------------------------------------------------------------------- storage


class ModelStore:
    """Versioned model files under one directory and a pointer to the current one."""

    POINTER = "current.json"

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def current_info(self) -> dict[str, Any] | None:
        pointer = self.directory / self.POINTER
        if not pointer.exists():
            return None
        return json.loads(pointer.read_text(encoding="utf-8"))

    def load_current(self) -> IntakeModel | None:
        info = self.current_info()
        if info is None:
            return None
        import joblib

        payload = joblib.load(self.directory / info["file"])
        if payload.get("format") != FORMAT_VERSION:
            raise ValueError(f"{info['file']}: model format {payload.get('format')!r} "
                             f"is not {FORMAT_VERSION}; train again")
        return IntakeModel(payload["vectoriser"], payload["classifiers"], info)

    def save(self, model: IntakeModel, *, metrics: dict[str, Any] | None = None,
             sources: Sequence[str] = ()) -> dict[str, Any]:
        import joblib
        import sklearn

        self.directory.mkdir(parents=True, exist_ok=True)
        previous = self.current_info()
        version = (previous or {}).get("version", 0) + 1
        while (self.directory / f"model-{version:04d}.joblib").exists():
            version += 1
        name = f"model-{version:04d}.joblib"
        joblib.dump({"format": FORMAT_VERSION, "vectoriser": model.vectoriser,
                     "classifiers": model.classifiers}, self.directory / name)
        info = {
            **model.info,
            "version": version,
            "file": name,
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "sources": list(sources),
            "sklearn": sklearn.__version__,
            "fields": sorted(model.classifiers),
            "metrics": metrics or {},
        }
        # Write then rename: a node starting up never reads half a pointer.
        tmp = self.directory / f".{self.POINTER}.tmp"
        tmp.write_text(json.dumps(info, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, self.directory / self.POINTER)
        model.info = info
        return info


def store_for(data_dir: Path) -> ModelStore:
    return ModelStore(Path(data_dir) / "classifier")


def label_sets() -> dict[str, tuple[str, ...]]:
    return {"urgency": URGENCY_LEVELS, "kind": KINDS, "emergency": EMERGENCY_SERVICES}
