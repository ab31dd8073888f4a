"""Score labelled files with the shipped model + rules, clean and recogniser-style.

    .venv/bin/python bench/heldout_score.py [-v] data/intake/heldout-11.tsv [...]

One line per file and style (``ticketing.degrade``, seed 0): accuracy per field, urgent
recall, emergency recall/precision, the share flagged 待确认. ``-v`` lists, for clean text,
the urgent calls read as less, missed and false emergencies. The lead's scoring of each
round's blind file (before any change, once after the merge) is this script's output.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ticketing.classify import load_rules
from ticketing.degrade import degrade
from ticketing.intake_eval import evaluate
from ticketing.intake_model import SHIPPED_DIR, ModelStore, read_labelled, understand

KEYS = ("n", "category", "urgency", "urgent_recall", "urgent_total", "kind", "district",
        "emergency_recall", "emergency_precision", "emergency_total", "emergency_flagged",
        "needs_confirmation")


def main(argv: list[str]) -> None:
    verbose = "-v" in argv
    model = ModelStore(Path("/nonexistent"), shipped=SHIPPED_DIR).load_current()
    rules = load_rules()
    for name in (a for a in argv if a != "-v"):
        rows = read_labelled(Path(name))
        for style, transform in (("clean", None), ("asr", degrade)):
            got = [understand(transform(r.text) if transform else r.text, rules, model)
                   for r in rows]
            summary = evaluate(rows, got)["summary"]
            print(name, style, " ".join(f"{k}={summary.get(k)}" for k in KEYS))
            if not verbose or transform:
                continue
            for row, res in zip(rows, got, strict=True):
                want = row.labels
                if want.get("urgency") == "urgent" and res.urgency != "urgent":
                    print("  MISS-URGENT", row.text)
                if want.get("emergency", "none") != "none" and res.emergency == "none":
                    print("  MISS-EMERG", want["emergency"], row.text)
                if want.get("emergency") == "none" and res.emergency != "none":
                    print("  FALSE-EMERG", res.emergency, row.text)


if __name__ == "__main__":
    main(sys.argv[1:])
