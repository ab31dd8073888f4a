"""Everything the intake derives from a text, one JSON line per text: to check that a change
meant only to make the intake faster changes no result.

For each text of the given TSV files (first column; header row skipped) prints what the
shipped rules and model understand (every field of ``Understanding``), the rules' own
``Classification``, the place (street, community, district) and the respondent, as one
JSON line. Run it before and after a change and compare the outputs (``cmp``); with
``--digest`` only the count of lines and a SHA-256 of them are printed, so that the texts
and the results of held-out files are never shown.

    .venv/bin/python bench/intake_identity.py data/intake/train.tsv > before.jsonl
    .venv/bin/python bench/intake_identity.py --digest data/intake/heldout*.tsv
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from config import get_settings  # noqa: E402
from ticketing.classify import classify  # noqa: E402
from ticketing.context import Domain  # noqa: E402


def texts(paths: list[Path]) -> list[str]:
    out = []
    for path in paths:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            next(rows, None)
            out += [row[0] for row in rows if row]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--digest", action="store_true",
                    help="print only the number of lines and their SHA-256")
    args = ap.parse_args()
    domain = Domain.load(get_settings())
    digest = hashlib.sha256()
    count = 0
    for text in texts(args.files):
        understood = domain.understand(text)
        place = domain.locate(f"{understood.address or ''}，{text}", understood.district)
        line = json.dumps({
            "understood": dataclasses.asdict(understood),
            "rules": dataclasses.asdict(classify(text, domain.classification)),
            "place": dataclasses.asdict(place),
            "respondent": domain.respondent(text),
        }, ensure_ascii=False, sort_keys=True)
        count += 1
        if args.digest:
            digest.update(line.encode() + b"\n")
        else:
            print(line)
    if args.digest:
        print(f"{count} texts sha256={digest.hexdigest()}")


if __name__ == "__main__":
    main()
